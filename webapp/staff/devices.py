"""Known devices: a browser where a user name has signed in before is not
held up by that name's sign-in backoff (#14).

The backoff per user name (webapp/staff/auth.py) is short, but an attacker
guessing from many addresses could renew it for ever. So a successful
sign-in leaves a cookie, signed with the app's SECRET_KEY, naming (by hash)
the user names that signed in on this browser; their next sign-in here skips
the name's wait. The address backoff still applies, a failure is still
counted for the name, and the cookie proves nothing by itself: the password
is checked as always. This is OWASP's "device cookie" defence against
account lockout.
"""

from __future__ import annotations

from typing import List

from flask import current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from webapp.staff import auth

COOKIE = "clinic_staff_device"
DAYS = 90
NAMES = 5  # user names one browser remembers (a shared front-desk computer)


def _signer() -> URLSafeTimedSerializer:
    key = current_app.secret_key or ""  # init_app always sets one
    return URLSafeTimedSerializer(key, salt="staff-known-device")


def _names() -> List[str]:
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 1000:
        return []
    try:
        value = _signer().loads(raw, max_age=DAYS * 86400)
    except BadData:
        return []
    if not isinstance(value, list):
        return []
    return [key for key in value if isinstance(key, str)][:NAMES]


def is_known(username: str) -> bool:
    """Has `username` signed in on this browser within DAYS days?"""
    return auth.throttle_key(username) in _names()


def remember(response: Response, username: str) -> Response:
    """Adds `username` to this browser's known names (after a sign-in)."""
    key = auth.throttle_key(username)
    names = [key] + [name for name in _names() if name != key]
    response.set_cookie(
        COOKIE,
        _signer().dumps(names[:NAMES]),
        max_age=DAYS * 86400,
        path="/staff/login",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Strict",
    )
    return response
