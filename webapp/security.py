"""What the web app sends and trusts about the request itself (#14):

- Response headers on every route (`init_app`): `X-Content-Type-Options:
  nosniff`, a `Referrer-Policy`, a content-security policy and
  `frame-ancestors 'none'` / `X-Frame-Options: DENY`, and
  `Strict-Transport-Security` when PUBLIC_BASE_URL is https. The staff app
  sets its own stricter set (webapp/staff/views.py); this adds HSTS there.
  The demo page's policy allows scripts and styles from the web app only,
  and connections to Rasa (RASA_URL). The widget's files are meant to be
  loaded by other sites' pages (CHAT_ALLOWED_ORIGINS), so they say
  `Cross-Origin-Resource-Policy: cross-origin`; a script's own CSP header
  does not apply to the page that loads it.
- Absolute URLs come from PUBLIC_BASE_URL (`public_url`), never from the
  request's Host, which any client can write; redirects are relative.
- The client's address (`client_address`) is the connection's remote
  address; X-Forwarded-For is read only when WEB_TRUSTED_PROXIES says how
  many proxies in front of the app append to it.
"""

from __future__ import annotations

import ipaddress
from typing import Dict, Optional
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Request, Response, current_app, request

from clinic.settings import origin_of

HSTS = "max-age=31536000"
# Anything but the demo page (JSON, files, errors): nothing runs if it is
# opened as a document, and it cannot be framed.
LOCKED_DOWN = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
WIDGET_FILES = "/static/widget/"


def public_base() -> str:
    """PUBLIC_BASE_URL without its trailing slash."""
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")


def public_url(path: str) -> str:
    """The absolute URL of `path` (which starts with '/') on the public site."""
    return public_base() + path


def demo_page_policy(public_base_url: str, rasa_url: str) -> str:
    """The demo page's content-security policy: its own files, the widget's
    (from PUBLIC_BASE_URL), images of bot replies, and Rasa's socket.io."""
    own = " ".join(o for o in {"'self'", origin_of(public_base_url) or ""} if o)
    rasa = origin_of(rasa_url) or ""
    sockets = rasa.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    connect = " ".join(part for part in ("'self'", rasa, sockets) if part)
    return (
        f"default-src 'none'; script-src {own}; style-src {own}; "
        f"img-src {own} data: https:; connect-src {connect}; "
        "form-action 'none'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    )


def public_headers(path: str, mimetype: Optional[str]) -> Dict[str, str]:
    """The headers of a response outside /staff."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    if path.startswith(WIDGET_FILES):
        # Loaded by the clinic's own pages, wherever they are.
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        headers["Content-Security-Policy"] = LOCKED_DOWN
        return headers
    headers["X-Frame-Options"] = "DENY"
    if path == "/" and mimetype == "text/html":
        headers["Content-Security-Policy"] = demo_page_policy(
            current_app.config["PUBLIC_BASE_URL"], current_app.config["RASA_URL"]
        )
    else:
        headers["Content-Security-Policy"] = LOCKED_DOWN
    return headers


def _relative_location(response: Response) -> None:
    """Werkzeug's own redirects (`/staff` to `/staff/`, merged slashes) name
    the request's Host: they become relative, so a forged Host goes nowhere."""
    location = response.headers.get("Location")
    if not location:
        return
    parts = urlsplit(location)
    if parts.scheme or parts.netloc:
        if parts.netloc.lower() != request.host.lower():
            return  # a redirect the app chose to make elsewhere
        relative = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
        response.headers["Location"] = "/" + relative.lstrip("/")


def _add_headers(response: Response) -> Response:
    _relative_location(response)
    if not request.path.startswith("/staff"):
        for header, value in public_headers(request.path, response.mimetype).items():
            response.headers.setdefault(header, value)
    if public_base().lower().startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _network(address: str) -> Optional[str]:
    """An IPv4 address as written; an IPv6 one as its /64 (one subscriber
    gets a whole /64, so it counts as one address). None if not an IP."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_address(req: Request, trusted_proxies: int) -> str:
    """The client's address for throttling: the remote address, or with
    `trusted_proxies` proxies in front, the X-Forwarded-For entry the
    outermost of them added (the ones to its left are the client's word)."""
    if trusted_proxies > 0:
        forwarded = [
            part.strip()
            for header in req.headers.getlist("X-Forwarded-For")
            for part in header.split(",")
            if part.strip()
        ]
        if len(forwarded) >= trusted_proxies:
            found = _network(forwarded[-trusted_proxies])
            if found is not None:
                return found
    return _network(req.remote_addr or "") or "unknown"


def init_app(app: Flask) -> None:
    """Adds the response headers to every route of `app`."""
    app.after_request(_add_headers)
