"""The web app on port 8000: the clinic demo page (with the chat) and the
staff app under /staff (`webapp.staff`). Built by `create_app`, as Flask
recommends."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from flask import Flask, render_template, url_for

from clinic.profile import current_profile
from clinic.settings import get_settings
from webapp import security, staff
from webapp.widget import bp as widget_bp


def create_app(config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Builds the app; `config` overrides settings (tests pass their own)."""
    app = Flask(__name__)
    settings = get_settings()
    app.config.update(RASA_URL=settings.rasa_url, DATABASE_URL=settings.database_url)
    app.config.update(
        PUBLIC_BASE_URL=settings.public_base_url,
        WEB_TRUSTED_PROXIES=settings.web_trusted_proxies,
    )
    app.config.update(staff.default_config(settings))
    if config:
        app.config.update(config)
    staff.init_app(app)
    security.init_app(app)  # headers on every route; URLs never from Host
    app.register_blueprint(widget_bp)  # the socket.io client for the chat widget

    @app.get("/")
    def demo_page() -> str:
        """A sample clinic page that embeds the chat."""
        return render_template(
            "demo.html",
            clinic=current_profile(),
            rasa_url=app.config["RASA_URL"],
            widget_src=security.public_url(
                url_for("static", filename="widget/ims-chat.js")
            ),
        )

    @app.get("/healthz")
    def health() -> Mapping[str, str]:
        return {"status": "ok"}

    return app
