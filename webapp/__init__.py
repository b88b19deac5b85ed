"""The web app on port 8000: the clinic demo page (with the chat) and the
staff app under /staff (`webapp.staff`). Built by `create_app`, as Flask
recommends."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from flask import Flask, render_template

from clinic.profile import current_profile
from clinic.settings import get_settings
from webapp import staff
from webapp.widget import bp as widget_bp


def create_app(config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Builds the app; `config` overrides settings (tests pass their own)."""
    app = Flask(__name__)
    settings = get_settings()
    app.config.update(RASA_URL=settings.rasa_url, DATABASE_URL=settings.database_url)
    app.config.update(staff.default_config(settings))
    if config:
        app.config.update(config)
    staff.init_app(app)
    app.register_blueprint(widget_bp)  # the socket.io client for the chat widget

    @app.get("/")
    def demo_page() -> str:
        """A sample clinic page that embeds the chat."""
        return render_template(
            "demo.html", clinic=current_profile(), rasa_url=app.config["RASA_URL"]
        )

    @app.get("/healthz")
    def health() -> Mapping[str, str]:
        return {"status": "ok"}

    return app
