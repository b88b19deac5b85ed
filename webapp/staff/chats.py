"""Live chat (#15): the Chats page, taking, answering and ending a chat.

- `/staff/chats`: whether the signed-in staff member takes chats (their
  availability switch), the chats waiting for a person (how long each has
  waited, its channel, the red-flag mark, the person's last message) and
  those held; the list refreshes itself every few seconds by htmx polling
  (`/staff/chats/list`), and a new request sounds an alert (chats.js).
- `/staff/chats/<id>`: the whole conversation so far (refreshed the same
  way), "Take this chat", and for the staff member holding it a reply box
  and "End chat".

A take is a conditional UPDATE (db/handoff.py): of two staff members who
click at once, exactly one gets the chat and the other is told who has it.
What the person sees goes through Rasa's HTTP API (clinic/rasa_api.py):
the `handoff` slot (`held`, then empty), and staff messages as bot events
with the staff member's account, in the same conversation as everything
else. Front desk and admins alike may take chats.

The staff app and Rasa keep the same state: when Rasa is not reached, a
take is given back (the chat waits again); when the call may have reached
it after all (a timeout, an answer cut short), the chat stays taken, since
the person may have been told someone joined, and the chat page offers to
tell them again until Rasa's `handoff` slot says `held`. A chat the person
left for a new session is ended by the assistant (actions/session.py), and
the page says so.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    send_from_directory,
    url_for,
)
from sqlalchemy import and_, or_, select
from werkzeug.wrappers import Response as WerkzeugResponse  # what redirect() gives

from clinic import rasa_api
from clinic.conversation_ids import number_of
from clinic.settings import PROJECT_ROOT, get_settings
from db import handoff
from db.deletion import has_events_table
from db.models import Lead, LeadEvent, utcnow
from db.rasa_events import event_data, events
from db.staff_models import HandoffChat
from webapp.staff import auth, labels
from webapp.staff.forms import AvailabilityForm, ChatForm, ReplyForm
from webapp.staff.roles import FRONT_DESK, allow
from webapp.staff.transcript import is_red_flagged, transcript
from webapp.staff.views import bp, db

logger = logging.getLogger(__name__)

SLOT = "handoff"  # actions/handoff.py
REMINDER = "handoff_timeout"
JOINED = "{name} from the clinic has joined the chat. You're now talking with a person."
ENDED = "You're back with the automated assistant."
HTMX_DIST = PROJECT_ROOT / "widget-vendor" / "node_modules" / "htmx.org" / "dist"
POLL_SECONDS = 3
# The chat pages run two scripts of this site (htmx and chats.js) and make
# requests to it; everything else stays as locked down as the other pages.
CHAT_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
LARGEST_ID = 2**31 - 1
# What Rasa writes into a `user` event it made up itself, for a reminder or
# the API's trigger_intent (rasa.shared.core.events.UserUttered
# .create_external; the names are rasa.shared.core.constants' IS_EXTERNAL
# and EXTERNAL_MESSAGE_PREFIX): not something the person wrote.
IS_EXTERNAL = "is_external"
EXTERNAL_PREFIX = "EXTERNAL: "
USER_EVENTS_READ = 20
WHATSAPP_WINDOW = timedelta(hours=24)
WINDOW_CLOSED = (
    "Not sent: WhatsApp lets the clinic reply freely only within 24 hours of "
    "the person's last message, and theirs is older. Call or text them "
    "instead{number}, or end the chat."
)

UNCONFIRMED = (
    "The chat is yours, but the assistant did not confirm that the person "
    "was told you joined. If the page still says so in a few seconds, use "
    'the "Tell them I\'ve joined" button.'
)


def display_name(username: str) -> str:
    return username[:1].upper() + username[1:]


def _page(template: str, **context: Any) -> Response:
    response = current_app.make_response(
        render_template(template, poll_seconds=POLL_SECONDS, **context)
    )
    response.headers["Content-Security-Policy"] = CHAT_POLICY
    return response


def _chat(chat_id: int) -> HandoffChat:
    chat = db().get(HandoffChat, chat_id) if 0 < chat_id <= LARGEST_ID else None
    if chat is None:
        abort(404, "There is no such chat request (it may have been deleted).")
    return chat


def waited(since: datetime, now: datetime) -> str:
    """How long since `since`, as staff read it: "45 s", "3 min 05 s"."""
    seconds = max(0, int((now - auth.aware(since)).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def is_external(data: Dict[str, Any]) -> bool:
    """Whether a `user` event is one Rasa made up (a reminder firing, the
    API's trigger_intent) rather than a message of the person's."""
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and metadata.get(IS_EXTERNAL) is True:
        return True
    intent = (data.get("parse_data") or {}).get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    return isinstance(name, str) and data.get("text") == EXTERNAL_PREFIX + name


def _latest_user_event(sender_id: str) -> Dict[str, Any]:
    """The person's latest message: the newest `user` event that Rasa did
    not make up itself (read a few at a time, newest first)."""
    if not has_events_table(db()):
        return {}
    before = None
    while True:
        query = (
            select(events.c.id, events.c.data)
            .where(events.c.sender_id == sender_id)
            .where(events.c.type_name == "user")
            .order_by(events.c.id.desc())
            .limit(USER_EVENTS_READ)
        )
        if before is not None:
            query = query.where(events.c.id < before)
        rows = db().execute(query).all()
        for row in rows:
            data = event_data(row.data)
            if not is_external(data):
                return data
        if len(rows) < USER_EVENTS_READ:
            return {}
        before = rows[-1].id


def rasa_holds(sender_id: str) -> Optional[bool]:
    """Whether Rasa has the conversation held by a person: its latest
    `handoff` slot event in the current session says `held` (a new session
    starts with the slot empty). None when Rasa's events cannot be read."""
    if not has_events_table(db()):
        return None
    query = (
        select(events.c.type_name, events.c.data)
        .where(events.c.sender_id == sender_id)
        .where(
            or_(
                and_(events.c.type_name == "slot", events.c.action_name == SLOT),
                events.c.type_name == "session_started",
            )
        )
        .order_by(events.c.id.desc())
        .limit(1)
    )
    row = db().execute(query).first()
    if row is None or row.type_name != "slot":
        return False
    return event_data(row.data).get("value") == handoff.HELD


def last_message(sender_id: str) -> str:
    """The person's latest message in the conversation (for the list)."""
    text = str(_latest_user_event(sender_id).get("text") or "")
    return text if len(text) <= 140 else text[:139] + "…"


def whatsapp_window_closed(sender_id: str, now: Optional[datetime] = None) -> bool:
    """WhatsApp's 24-hour rule: Twilio refuses a free-form WhatsApp message
    sent more than 24 hours after the person's last one."""
    latest = _latest_user_event(sender_id)
    if labels.medium(latest) != "whatsapp":
        return False
    at = latest.get("timestamp")
    if not isinstance(at, (int, float)):
        return False
    now = now or utcnow()
    return now.timestamp() - at > WHATSAPP_WINDOW.total_seconds()


def _rows() -> List[Dict[str, Any]]:
    now = utcnow()
    rows = []
    for chat in handoff.open_chats(db()):
        rows.append(
            {
                "chat": chat,
                "waited": waited(chat.requested_at, now),
                "red_flag": is_red_flagged(db(), chat.sender_id),
                "last": last_message(chat.sender_id),
                "mine": chat.taken_by == g.staff_user.id,
            }
        )
    return rows


def _audit(chat: HandoffChat, kind: str) -> None:
    """Into the audit trail of every lead of the conversation: who took or
    ended its live chat (the messages themselves are in the transcript)."""
    leads = db().scalars(select(Lead).where(Lead.sender_id == chat.sender_id))
    for lead in leads:
        db().add(
            LeadEvent(
                lead=lead,
                lead_reference=lead.reference,
                kind=kind,
                actor=g.staff_user.username,
                detail=f"chat {chat.id}",
            )
        )
    db().commit()


def _send(sender_id: str, events_: List[Dict[str, Any]]) -> None:
    rasa_api.append_events(
        current_app.config["RASA_URL"],
        get_settings().rasa_auth_token,
        sender_id,
        events_,
    )


@bp.get("/chats")
@allow(FRONT_DESK)
def chats() -> Response:
    return _page(
        "staff/chats.html",
        rows=_rows(),
        available=handoff.is_available(db(), g.staff_user.id),
        availability_form=AvailabilityForm(formdata=None),
    )


@bp.get("/chats/list")
@allow(FRONT_DESK)
def chat_list() -> Response:
    """The list alone, for htmx to swap in (polled)."""
    return _page("staff/_chat_list.html", rows=_rows())


@bp.post("/chats/availability")
@allow(FRONT_DESK)
def chat_availability() -> Any:
    form = AvailabilityForm()
    if not form.validate_on_submit() or form.available.data not in ("on", "off"):
        abort(400, "Say whether you take chats: on or off.")
    handoff.set_available(db(), g.staff_user.id, form.available.data == "on")
    db().commit()
    flash(
        "You take live chats now."
        if form.available.data == "on"
        else "Live chat is off for you."
    )
    return redirect(url_for("staff.chats"), code=303)


def _chat_context(chat: HandoffChat) -> Dict[str, Any]:
    mine = chat.status == handoff.HELD and chat.taken_by == g.staff_user.id
    return {
        "chat": chat,
        "turns": transcript(db(), chat.sender_id),
        "mine": mine,
        # Taken here, but Rasa has not (yet) made the chat held: the person
        # may not have been told (a take whose answer from Rasa was lost).
        "unconfirmed": mine and rasa_holds(chat.sender_id) is False,
        "was_mine": chat.taken_by == g.staff_user.id,
        "chat_form": ChatForm(formdata=None),
        "holder": _holder(chat),
        "red_flagged": is_red_flagged(db(), chat.sender_id),
        "window_closed": whatsapp_window_closed(chat.sender_id),
        "number": number_of(chat.sender_id),
    }


def _holder(chat: HandoffChat) -> Optional[str]:
    from db.staff_models import StaffUser

    user = db().get(StaffUser, chat.taken_by) if chat.taken_by else None
    return user.username if user else None


@bp.get("/chats/<int:chat_id>")
@allow(FRONT_DESK)
def chat_page(chat_id: int) -> Response:
    chat = _chat(chat_id)
    logger.info("Staff user %s opened chat %s", g.staff_user.username, chat.id)
    return _page(
        "staff/chat.html", reply_form=ReplyForm(formdata=None), **_chat_context(chat)
    )


@bp.get("/chats/<int:chat_id>/transcript")
@allow(FRONT_DESK)
def chat_transcript(chat_id: int) -> Response:
    """The conversation alone, for htmx to swap in (polled)."""
    return _page("staff/_chat_transcript.html", **_chat_context(_chat(chat_id)))


@bp.post("/chats/<int:chat_id>/take")
@allow(FRONT_DESK)
def take_chat(chat_id: int) -> Any:
    chat = _chat(chat_id)
    if not ChatForm().validate_on_submit():
        abort(400, "This form has expired. Reload the page and try again.")
    user = g.staff_user
    if not handoff.take(db(), chat.id, user.id):
        db().refresh(chat)
        holder = _holder(chat)
        flash(
            f"{holder} has already taken this chat."
            if chat.status == handoff.HELD and holder
            else "This chat is no longer waiting.",
            "error",
        )
        return redirect(url_for("staff.chat_page", chat_id=chat.id), code=303)
    try:
        _send(chat.sender_id, _joining(user))
    except rasa_api.RasaUnavailable as error:
        if not error.maybe_applied:
            # Rasa has nothing of it: the chat waits again, for anyone.
            handoff.give_back(db(), chat.id, user.id)
            flash(
                "The assistant could not be reached, so the person was not "
                "told: the chat is still waiting. Try again in a moment.",
                "error",
            )
            return redirect(url_for("staff.chat_page", chat_id=chat.id), code=303)
        # Rasa may have told the person someone joined (and made the chat
        # held): giving it back would leave them with nobody. It stays yours.
        flash(UNCONFIRMED, "error")
    else:
        db().refresh(chat)
        if chat.status != handoff.HELD:
            # A new session of the person's ended the chat (actions/session.py)
            # between the take and Rasa's lock: Rasa now has it held in the
            # new session, and nobody holds it here. Rasa is told it ended.
            _give_back_to_the_bot(chat)
            return redirect(url_for("staff.chat_page", chat_id=chat.id), code=303)
    _audit(chat, "chat_taken")
    logger.info("Staff user %s took chat %s", user.username, chat.id)
    return redirect(url_for("staff.chat_page", chat_id=chat.id), code=303)


def _give_back_to_the_bot(chat: HandoffChat) -> None:
    user = g.staff_user
    try:
        _send(chat.sender_id, _ending(chat, user))
    except rasa_api.RasaUnavailable:
        logger.error("Chat %s ended by a new session not given back", chat.id)
    flash(
        "The person started a new conversation with the assistant as you took "
        "the chat, so it has ended.",
        "error",
    )


def _joining(user: Any) -> List[Dict[str, Any]]:
    """What joining a chat appends: the wait's reminder cancelled, the chat
    held (the bot listens), and "... has joined" from the staff member."""
    joined = JOINED.format(name=display_name(user.username))
    return [
        rasa_api.cancel_reminder(REMINDER),
        rasa_api.slot(SLOT, handoff.HELD),
        rasa_api.staff_message(joined, user.id, user.username),
    ]


@bp.post("/chats/<int:chat_id>/join")
@allow(FRONT_DESK)
def rejoin_chat(chat_id: int) -> Any:
    """Sends the join again, for a take that Rasa did not confirm."""
    chat, refused = _held_chat(chat_id)
    if refused is not None:
        return refused
    try:
        _send(chat.sender_id, _joining(g.staff_user))
    except rasa_api.RasaUnavailable:
        flash(
            "The assistant could not be reached (or did not confirm). Try "
            "again in a moment, or end the chat.",
            "error",
        )
    return redirect(url_for("staff.chat_page", chat_id=chat.id), code=303)


def _held_chat(chat_id: int) -> Tuple[HandoffChat, Optional[WerkzeugResponse]]:
    """The chat of a posted join or end form, and, unless the signed-in
    staff member holds it, the answer that says so."""
    chat = _chat(chat_id)
    if not ChatForm().validate_on_submit():
        abort(400, "This form has expired. Reload the page and try again.")
    return chat, _not_held_by_me(chat)


def _not_held_by_me(chat: HandoffChat) -> Optional[WerkzeugResponse]:
    """None when the signed-in staff member holds the chat; a redirect that
    says so when the chat they held has ended; else 409."""
    mine = chat.taken_by == g.staff_user.id
    if chat.status == handoff.HELD and mine:
        return None
    if mine and chat.status in (handoff.ENDED, handoff.EXPIRED):
        flash(
            "Not sent: this chat has ended, and the person is back with the "
            "automated assistant.",
            "error",
        )
        return redirect(url_for("staff.chat_page", chat_id=chat.id), code=303)
    abort(409, "Only the staff member who took this chat can do that.")


@bp.post("/chats/<int:chat_id>/reply")
@allow(FRONT_DESK)
def reply_chat(chat_id: int) -> Any:
    chat = _chat(chat_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        abort(400, "Write a message of at most 1,000 characters.")
    refused = _not_held_by_me(chat)
    if refused is not None:
        return refused
    user = g.staff_user
    text = form.text.data.replace("\x00", "").strip()
    if not text:
        abort(400, "Write a message of at most 1,000 characters.")
    if whatsapp_window_closed(chat.sender_id):
        number = number_of(chat.sender_id)
        flash(WINDOW_CLOSED.format(number=f" at {number}" if number else ""), "error")
        return redirect(url_for("staff.chat_page", chat_id=chat.id), code=303)
    try:
        _send(chat.sender_id, [rasa_api.staff_message(text, user.id, user.username)])
    except rasa_api.RasaUnavailable:
        flash("Not sent: the assistant could not be reached. Try again.", "error")
    return redirect(url_for("staff.chat_page", chat_id=chat.id), code=303)


def _ending(chat: HandoffChat, user: Any) -> List[Dict[str, Any]]:
    """What ending a chat appends: the slot emptied (the bot answers again)
    and, where the channel still takes it, "You're back with ..."."""
    # The reminder too: after a take Rasa did not confirm it may still be
    # set, and would tell the person nobody could join.
    ending = [rasa_api.cancel_reminder(REMINDER), rasa_api.slot(SLOT, None)]
    if not whatsapp_window_closed(chat.sender_id):  # else Twilio would refuse it
        ending.append(rasa_api.staff_message(ENDED, user.id, user.username))
    return ending


@bp.post("/chats/<int:chat_id>/end")
@allow(FRONT_DESK)
def end_chat(chat_id: int) -> Any:
    chat, refused = _held_chat(chat_id)
    if refused is not None:
        return refused
    user = g.staff_user
    try:
        _send(chat.sender_id, _ending(chat, user))
    except rasa_api.RasaUnavailable:
        flash("Not ended: the assistant could not be reached. Try again.", "error")
        return redirect(url_for("staff.chat_page", chat_id=chat.id), code=303)
    if handoff.end(db(), chat.id, user.id):
        _audit(chat, "chat_ended")
    logger.info("Staff user %s ended chat %s", user.username, chat.id)
    flash("Chat ended: the person is back with the automated assistant.")
    return redirect(url_for("staff.chats"), code=303)


@bp.get("/chats/htmx.min.js")
@allow(FRONT_DESK)
def htmx_script() -> Response:
    """htmx, pinned by widget-vendor/package-lock.json (`make install`)."""
    if not (HTMX_DIST / "htmx.min.js").is_file():
        logger.error("htmx missing in %s: run `make install`", HTMX_DIST)
        abort(404)
    return send_from_directory(HTMX_DIST, "htmx.min.js", max_age=3600)
