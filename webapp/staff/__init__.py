"""The staff app, under /staff: sign in, the lead queue, lead pages with
their transcripts, conversations, live chats (`chats`), the dashboard and
the outbox.

`default_config()` gives the app's security settings (create_app applies
them before a caller's overrides); `init_app(app)` registers the blueprint,
CSRF protection and the error pages.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any, Dict, Optional

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from clinic.settings import Settings

logger = logging.getLogger(__name__)
_process_key: Optional[str] = None
csrf = CSRFProtect()


def _random_key() -> str:
    """One random key per process, when STAFF_SECRET_KEY is not set."""
    global _process_key
    if _process_key is None:
        _process_key = secrets.token_hex(32)
        logger.warning(
            "STAFF_SECRET_KEY is not set: using a random key for this process. "
            "Staff sign-ins end when the web app restarts; set STAFF_SECRET_KEY "
            "to keep them (and to run more than one web process)."
        )
    return _process_key


def default_config(settings: Settings) -> Dict[str, Any]:
    """Flask settings of the staff app, from the environment."""
    staff = settings.staff
    secure = staff.cookie_secure
    if secure is None:
        secure = settings.public_base_url.lower().startswith("https://")
    return {
        "STAFF_SETTINGS": staff,
        "SECRET_KEY": staff.secret_key,  # None: init_app draws one
        "SESSION_COOKIE_NAME": "clinic_staff",
        "SESSION_COOKIE_PATH": "/staff",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=staff.session_hours),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    }


def _error_page(error: HTTPException):  # noqa: ANN202 - a response
    if not request.path.startswith("/staff"):
        return error
    description = error.description
    if isinstance(error, CSRFError):
        description = (
            "This form has expired or did not come from the staff app. "
            "Go back, reload the page and try again."
        )
    elif error.code == 500:
        description = "Something went wrong on our side. It has been logged."
    response = render_template(
        "staff/error.html", code=error.code, name=error.name, description=description
    )
    return response, error.code


def init_app(app: Flask) -> None:
    """Adds the staff app to `app`."""
    from webapp.staff import chats  # noqa: F401 - adds the live-chat routes to bp
    from webapp.staff.views import bp

    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _random_key()
    csrf.init_app(app)
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _error_page)
