"""The staff email for a chat request nobody could take (#15).

When a person asks for someone at the clinic during chat hours and no staff
member is signed in and available, they are offered the call-back form,
and the front desk gets this notice in the outbox (sent by SMTP when it is
set up). It says only that a chat request is waiting and where to look:
never who asked, on which number, or what they wrote.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from db.models import OutboxMessage

SUBJECT = "[chat request] Someone asked to chat with the front desk"


def queue_chat_request_notice(
    session: Session, recipient: str, staff_url: str, at: datetime
) -> OutboxMessage:
    """Adds the notice to the outbox (the caller commits)."""
    body = (
        "A chat request is waiting: someone asked to chat with the front desk "
        f"at {at:%H:%M} UTC while nobody was signed in to the staff app and "
        "available for live chat. They were offered a call back instead.\n\n"
        f"Sign in and switch live chat on to take the next one: {staff_url}\n"
    )
    message = OutboxMessage(recipient=recipient, subject=SUBJECT, body=body)
    session.add(message)
    return message
