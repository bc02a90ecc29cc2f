"""`python -m flowyard.ui [--host 127.0.0.1] [--port 8765]`: the dashboard alone, for
development and the browser tests, until `flowyard up` serves it with the API."""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m flowyard.ui")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    import uvicorn
    from fastapi import FastAPI

    from flowyard.ui import mount

    app = FastAPI(title="Flowyard dashboard")
    mount(app)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
