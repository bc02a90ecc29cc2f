"""`python -m flowyard.ui [--host 127.0.0.1] [--port 8765]`: the server as `flowyard up`
runs it (API, control plane and dashboard), without the CLI's start-up extras; used in
development, by the browser tests and by the UI benchmark."""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m flowyard.ui")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    import uvicorn

    from flowyard.api.app import create_app
    from flowyard.api.hosts import HostPolicy
    from flowyard.ui import mount

    app = mount(create_app(hosts=HostPolicy.build(args.host)))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
