"""`python -m webapp --port 8000`: serves the web app (demo page, widget files,
staff app) with waitress, a production WSGI server, on loopback by default."""

from __future__ import annotations

import argparse
import logging

from waitress import serve

from webapp import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    print(f"Web app on http://{args.host}:{args.port}/", flush=True)
    serve(
        create_app(),
        host=args.host,
        port=args.port,
        threads=args.threads,
        ident="ims-web",
        # the app's own size limits answer first; this is the server's backstop
        max_request_body_size=1_048_576,
    )


if __name__ == "__main__":
    main()
