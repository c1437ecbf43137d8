"""Entry point of the ``fabula`` command."""

from __future__ import annotations

import argparse
import sys


def _api(args: argparse.Namespace) -> int:
    from cli.api import run_api

    return run_api(host=args.host, port=args.port, workers=args.workers, reuse_port=args.reuse_port)


def _worker(args: argparse.Namespace) -> int:
    from cli.worker import run_worker

    return run_worker(name=args.name)


def _feed_builder(args: argparse.Namespace) -> int:
    from cli.feed_builder import run_feed_builder

    return run_feed_builder(nice=args.nice, index=not args.no_index)


def _dev(args: argparse.Namespace) -> int:
    from cli.dev import run_dev

    return run_dev(port=args.port, data=args.data, host=args.host, api_procs=args.api_procs)


def _admin(args: argparse.Namespace) -> int:
    from cli.admin import run_admin

    return run_admin(args.action, getattr(args, "handle", None), data=args.data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fabula",
        description="Fabula: a self-hostable AI video social network. Settings come from FABULA_* variables.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run embedded Valkey + nx-27017 + api + one worker + one feed builder as one process tree")
    dev.add_argument("--port", type=int, default=8000, help="HTTP port of the api (default 8000)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--data", default="var", help="data directory (default ./var)")
    dev.add_argument("--api-procs", type=int, default=1, help="api processes sharing the port (SO_REUSEPORT; default 1)")
    dev.set_defaults(func=_dev)

    api = sub.add_parser("api", help="run the HTTP/WebSocket api against FABULA_MONGO_URL and FABULA_REDIS_URL")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="server processes")
    api.add_argument("--reuse-port", action="store_true", help="bind with SO_REUSEPORT, so several `fabula api` processes share the port")
    api.set_defaults(func=_api)

    worker = sub.add_parser("worker", help="run one generation worker")
    worker.add_argument("--name", default=None, help="consumer name (default host-pid)")
    worker.set_defaults(func=_worker)

    builder = sub.add_parser("feed-builder", help="run one opening builder: ranks users' next for-you pages ahead of the api")
    builder.add_argument("--nice", type=int, default=19, help="CPU priority below the api's (default 19, the lowest; 0 keeps the same)")
    builder.add_argument("--no-index", action="store_true", help="leave the catalogue index to another builder")
    builder.set_defaults(func=_feed_builder)

    admin = sub.add_parser("admin", help="grant, revoke or list administrator rights (the /v1/admin/* views)")
    admin.add_argument("--data", default="var", help="without FABULA_MONGO_URL: the data directory of a running `fabula dev` (default ./var)")
    actions = admin.add_subparsers(dest="action", required=True)
    for action, what in (("grant", "make HANDLE an administrator"), ("revoke", "take HANDLE's administrator rights away")):
        one = actions.add_parser(action, help=what)
        one.add_argument("handle", metavar="HANDLE")
    actions.add_parser("list", help="the administrators' handles, one a line")
    admin.set_defaults(func=_admin)

    from cli.user import add_user_commands  # login, logout, whoami, create, feed, cameo status

    add_user_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
