"""A small round-robin HTTP and WebSocket proxy for running replicas locally.

`make run-scaled` puts one in front of the Rasa replicas and one in front of
the action servers. In production the load balancer is the platform's
(a Kubernetes Service and Ingress, a cloud load balancer, nginx); this
proxy exists so the scaled set-up runs on a machine with nothing but Python,
and does only what that set-up needs:

- round robin over the upstreams; an upstream that refuses a connection is
  skipped for `--down-seconds` and the request goes to the next one (safe:
  nothing was sent), 502 when none answers;
- socket.io: an Engine.IO session must stay on the replica that opened it,
  so the proxy reads the `sid` from the handshake and routes every later
  request with that `sid` to the same replica; WebSocket upgrades are
  proxied frame by frame;
- request bodies over `--max-body` bytes are refused with 413;
- adds X-Forwarded-For and X-Forwarded-Proto; writes no access log.

    python -m deploy.proxy --port 8080 \\
        --upstream http://127.0.0.1:5005 --upstream http://127.0.0.1:5006
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import aiohttp
from aiohttp import web

logger = logging.getLogger("deploy.proxy")

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
STICKY_SECONDS = 3600
STICKY_MAX = 100_000


@dataclass
class Upstreams:
    """The upstream servers, their rotation, and Engine.IO session routes."""

    urls: List[str]
    down_seconds: float = 5.0
    down_until: Dict[str, float] = field(default_factory=dict)
    sticky: Dict[str, Tuple[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(range(len(self.urls)))

    def candidates(self, sid: Optional[str]) -> List[str]:
        """Upstreams to try, in order: the session's own, else the rotation."""
        if sid and sid in self.sticky:
            url, _ = self.sticky[sid]
            self.sticky[sid] = (url, time.monotonic())
            return [url]  # an Engine.IO session lives on one replica only
        start = next(self._turn)
        ordered = self.urls[start:] + self.urls[:start]
        now = time.monotonic()
        alive = [url for url in ordered if self.down_until.get(url, 0) <= now]
        return alive + [url for url in ordered if url not in alive]

    def mark_down(self, url: str) -> None:
        self.down_until[url] = time.monotonic() + self.down_seconds

    def remember(self, sid: str, url: str) -> None:
        now = time.monotonic()
        if len(self.sticky) >= STICKY_MAX:
            for key, (_, seen) in list(self.sticky.items()):
                if now - seen > STICKY_SECONDS:
                    del self.sticky[key]
        if len(self.sticky) < STICKY_MAX:
            self.sticky[sid] = (url, now)


def _forward_headers(request: web.Request) -> Dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    peer = request.remote or ""
    prior = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
    headers["X-Forwarded-Proto"] = request.scheme
    return headers


def _handshake_sid(body: bytes) -> Optional[str]:
    """The sid in an Engine.IO open packet (`0{"sid": ...}`), if it is one."""
    if not body.startswith(b"0{"):
        return None
    try:
        sid = json.loads(body[1:].split(b"\x1e", 1)[0]).get("sid")
    except (ValueError, AttributeError):
        return None
    return sid if isinstance(sid, str) else None


class Proxy:
    def __init__(self, upstreams: Upstreams, session: aiohttp.ClientSession):
        self.upstreams = upstreams
        self.session = session

    async def handle(self, request: web.Request) -> web.StreamResponse:
        sid = request.query.get("sid")
        is_ws = request.headers.get("Upgrade", "").lower() == "websocket"
        body = b"" if is_ws else await request.read()  # 413 above client_max_size
        for url in self.upstreams.candidates(sid):
            target = url + request.rel_url.path_qs
            try:
                if is_ws:
                    return await self._websocket(request, target)
                return await self._http(request, target, body, url)
            except aiohttp.ClientConnectorError:
                self.upstreams.mark_down(url)
                logger.warning("upstream %s refused the connection", url)
            except aiohttp.WSServerHandshakeError as error:
                return web.json_response({"error": "refused"}, status=error.status)
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                logger.warning("upstream %s failed: %s", url, type(error).__name__)
                return web.json_response({"error": "upstream failed"}, status=502)
        return web.json_response({"error": "no upstream available"}, status=502)

    async def _http(
        self, request: web.Request, target: str, body: bytes, url: str
    ) -> web.StreamResponse:
        async with self.session.request(
            request.method,
            target,
            headers=_forward_headers(request),
            data=body or None,
            allow_redirects=False,
        ) as upstream:
            headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP
            }
            headers.pop("Content-Encoding", None)  # aiohttp decoded the body
            is_handshake = (
                "sid" not in request.query
                and request.path.startswith("/socket.io")
                and request.method == "GET"
            )
            if is_handshake or upstream.content_length is not None:
                content = await upstream.read()
                sid = _handshake_sid(content) if is_handshake else None
                if sid:
                    self.upstreams.remember(sid, url)
                return web.Response(
                    status=upstream.status, headers=headers, body=content
                )
            response = web.StreamResponse(status=upstream.status, headers=headers)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def _websocket(self, request: web.Request, target: str) -> web.StreamResponse:
        headers = {
            k: v
            for k, v in _forward_headers(request).items()
            if not k.lower().startswith("sec-websocket")
        }
        async with self.session.ws_connect(
            target.replace("http", "ws", 1), headers=headers, autoping=False
        ) as upstream:
            client = web.WebSocketResponse(autoping=False)
            await client.prepare(request)
            await asyncio.gather(_pump(client, upstream), _pump(upstream, client))
            return client


async def _pump(source, sink) -> None:  # noqa: ANN001 - either side of a socket
    """Copies WebSocket frames from `source` to `sink` until one side closes."""
    async for message in source:
        if message.type == aiohttp.WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == aiohttp.WSMsgType.PING:
            await sink.ping(message.data)
        elif message.type == aiohttp.WSMsgType.PONG:
            await sink.pong(message.data)
        else:
            break
    await sink.close()


def create_app(
    upstreams: List[str], max_body: int = 1 << 20, down_seconds: float = 5.0
) -> web.Application:
    app = web.Application(client_max_size=max_body)
    pool = Upstreams([url.rstrip("/") for url in upstreams], down_seconds)

    async def start(app: web.Application) -> None:
        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=600),
            auto_decompress=True,
        )
        app["proxy"] = Proxy(pool, session)

    async def stop(app: web.Application) -> None:
        await app["proxy"].session.close()

    async def handle(request: web.Request) -> web.StreamResponse:
        return await request.app["proxy"].handle(request)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", "/{path:.*}", handle)
    return app


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", action="append", required=True)
    parser.add_argument("--max-body", type=int, default=1 << 20, help="bytes")
    parser.add_argument("--down-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    app = create_app(args.upstream, args.max_body, args.down_seconds)
    logger.info("proxy on %s:%s -> %s", args.host, args.port, args.upstream)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
