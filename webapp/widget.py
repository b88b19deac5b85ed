"""Serves the website widget's one third-party file, the socket.io client.

The widget itself (`static/widget/ims-chat.js` and `ims-chat.css`) is plain
static content. The socket.io client comes from the npm registry, pinned by
`widget-vendor/package-lock.json` and installed into `widget-vendor/node_modules` by
`make install` (`npm ci`); this blueprint serves it beside the widget, at
`/static/widget/socket.io.min.js`, so that the widget finds it next to itself.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Response, abort, send_from_directory

from clinic.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

SOCKET_IO_DIST = (
    PROJECT_ROOT / "widget-vendor" / "node_modules" / "socket.io-client" / "dist"
)
# Only these files of the package are served (the source map helps debugging).
SERVED = ("socket.io.min.js", "socket.io.min.js.map")

bp = Blueprint("widget", __name__)


def socket_io_dist() -> Path:
    """Where `npm ci --prefix widget` puts the socket.io client bundle."""
    return SOCKET_IO_DIST


@bp.get("/static/widget/<any(" + ", ".join(f'"{n}"' for n in SERVED) + "):name>")
def socket_io_client(name: str) -> Response:
    """The pinned socket.io client, from widget-vendor/node_modules."""
    folder = socket_io_dist()
    if not (folder / name).is_file():
        logger.error("socket.io client missing in %s: run `make install`", folder)
        abort(404)
    response = send_from_directory(folder, name, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
