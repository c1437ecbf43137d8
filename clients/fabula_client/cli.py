"""The ``fabula`` commands for people: ``login``, ``logout``, ``whoami``,
``create``, ``feed`` and ``cameo status``, over the HTTP and WebSocket APIs.

``fabula login`` asks for a handle and a password (or ``--signup`` makes the
account, with the birth date of ``--birth-date`` or asked for) and keeps the token in the user's config folder
(``fabula_client.config``, mode 0600); the other commands use it. The api is
``--url``, else ``FABULA_URL``, else the one logged in to, else
``http://127.0.0.1:8000`` (``make run``).

``add_user_commands(subparsers)`` puts the same commands into another
parser (the server's ``fabula`` command has them too); ``main`` is the
client package's own ``fabula``: the server's commands (``dev``, ``api``…)
are handed to the server's ``fabula`` when it is installed."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib.metadata
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from . import config
from .client import FabulaClient
from .errors import FabulaAPIError

USER_COMMANDS = ("login", "logout", "whoami", "create", "feed", "cameo")
HTTP_TIMEOUT_S = 120.0  # a person waits rather than retries (a server's first prompt check can load its models)


class NotSignedIn(Exception):
    pass


def _url(args: argparse.Namespace, saved: config.ClientConfig) -> str:
    return (getattr(args, "url", None) or os.environ.get("FABULA_URL") or saved.url or config.DEFAULT_URL).rstrip("/")


def _client(args: argparse.Namespace) -> FabulaClient:
    saved = config.load()
    if not saved.token:
        raise NotSignedIn
    return FabulaClient(_url(args, saved), saved.token, timeout=HTTP_TIMEOUT_S)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


# -- login, logout, whoami ----------------------------------------------------


async def _login(args: argparse.Namespace) -> int:
    try:
        saved = config.load()
    except config.ConfigError:  # logging in writes a good one over it
        saved = config.ClientConfig()
    url = _url(args, saved)
    handle = args.handle or input("handle: ").strip()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    birth_date = None
    if args.signup:
        birth_date = args.birth_date or input("birth date (YYYY-MM-DD): ").strip()
    async with FabulaClient(url, timeout=HTTP_TIMEOUT_S) as client:
        if args.signup:
            body = await client.signup(handle, password, birth_date)
        else:
            body = await client.login(handle, password)
    path = config.save(config.ClientConfig(url=url, token=body["token"], handle=body["user"]["handle"]))
    print(f"signed in to {url} as @{body['user']['handle']} (token kept in {path})")
    return 0


async def _logout(args: argparse.Namespace) -> int:
    try:
        saved = config.load()
    except config.ConfigError:  # nothing to log out with: the file goes
        saved = config.ClientConfig()
    if saved.token:
        async with FabulaClient(_url(args, saved), saved.token, timeout=HTTP_TIMEOUT_S) as client:
            try:
                await client.logout()
            except FabulaAPIError as exc:
                if exc.status != 401:  # an expired token is logged out already
                    raise
    config.forget()
    print("signed out")
    return 0


async def _whoami(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        me = await client.me()
    print(f"@{me['handle']} on {client.base_url}")
    return 0


# -- create ------------------------------------------------------------------


def _progress(msg: dict) -> None:
    data = msg.get("data", {})
    if msg["type"] == "progress":
        print(f"\rstep {data['step']}/{data['steps']}  {data['progress']:3d}%", end="", file=sys.stderr, flush=True)
    elif msg["type"] == "status" and data.get("status") == "in_progress":
        print("\rstarted", end="", file=sys.stderr, flush=True)


async def _create(args: argparse.Namespace) -> int:
    extra: dict[str, Any] = {}
    if args.steps is not None:
        extra["steps"] = args.steps
    if args.seed is not None:
        extra["seed"] = args.seed
    async with _client(args) as client:
        video = await client.create_video(args.prompt, seconds=args.seconds, size=args.size, **extra)
        print(video["id"])
        if not (args.wait or args.out):
            return 0
        try:
            final = await client.wait_video(video["id"], timeout=args.timeout, on_event=_progress)
        except TimeoutError:
            print(file=sys.stderr)
            _err(f"error: gave up waiting for {video['id']} after {args.timeout:g} s (it goes on; `fabula create --help`)")
            return 1
        print(file=sys.stderr)
        if final["status"] != "completed":
            error = final.get("error") or {}
            _err(f"{video['id']} {final['status']}: {error.get('message', 'no reason given')} ({error.get('code', '')})")
            return 1
        print(f"{video['id']} completed", file=sys.stderr)
        if args.out:
            data = await client.download(video["id"])
            try:
                Path(args.out).write_bytes(data)
            except OSError as exc:
                _err(f"error: cannot write {args.out}: {exc.strerror or exc} (the video is {video['id']})")
                return 1
            print(f"saved {len(data)} bytes to {args.out}", file=sys.stderr)
    return 0


# -- feed --------------------------------------------------------------------


def _post_line(post: dict) -> str:
    counts = post.get("counts", {})
    author = (post.get("author") or {}).get("handle", "?")
    caption = " ".join((post.get("caption") or "").split()) or "(no caption)"
    return f"{post['id']}  @{author}: {caption}  [{counts.get('likes', 0)} likes, {counts.get('comments', 0)} comments]"


async def _feed(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        page = await client.feed(args.kind, limit=args.limit)
    posts = page.get("data", [])
    if not posts:
        print("nothing here yet" + (": follow someone, or try --for-you" if args.kind == "following" else ""))
    for post in posts:
        print(_post_line(post))
    return 0


# -- cameo status ------------------------------------------------------------


async def _cameo_status(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        mine = (await client.my_cameos())["data"]
        waiting = (await client.cameo_requests("incoming", limit=50))["data"]
    if not mine:
        print("no cameo yet: record one in the app (your profile, then Cameo)")
    for cameo in mine:
        state = "paused" if cameo.get("paused") else "active"
        face = ", live-verified face" if cameo.get("face") else ""
        print(f"{cameo['mention']}  {cameo['kind']} \"{cameo['name']}\"  {state}, permission: {cameo['permission']}{face}")
        if cameo.get("restrictions"):
            print(f"  never in: {', '.join(cameo['restrictions'])}")
        if cameo.get("preferences"):
            print(f"  preferences: {'; '.join(cameo['preferences'])}")
    if waiting:
        print(f"{len(waiting)} request(s) waiting for your answer:")
        for grant in waiting:
            print(f"  @{grant['user']['handle']} asks to use {grant['cameo_id']}")
    return 0


# -- the parser --------------------------------------------------------------


def add_user_commands(sub: Any) -> None:
    """Add the user commands to an argparse subparsers object (each sets ``func``)."""

    def url_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", help="the api (default: FABULA_URL, the one logged in to, or http://127.0.0.1:8000)")

    login = sub.add_parser("login", help="sign in (or --signup) and keep the token in your config folder")
    url_option(login)
    login.add_argument("--handle", help="your handle (asked for when left out)")
    login.add_argument("--signup", action="store_true", help="make the account first")
    login.add_argument("--birth-date", help="with --signup: your birth date, YYYY-MM-DD (asked for when left out)")
    login.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    login.set_defaults(func=_run(_login))

    logout = sub.add_parser("logout", help="revoke the kept token and forget it")
    url_option(logout)
    logout.set_defaults(func=_run(_logout))

    whoami = sub.add_parser("whoami", help="who the kept token signs in as")
    url_option(whoami)
    whoami.set_defaults(func=_run(_whoami))

    create = sub.add_parser("create", help="make a video from a prompt")
    url_option(create)
    create.add_argument("prompt")
    create.add_argument("--seconds", type=int)
    create.add_argument("--size", help="WxH, e.g. 64x64")
    create.add_argument("--steps", type=int)
    create.add_argument("--seed", type=int)
    create.add_argument("--wait", action="store_true", help="follow its progress until it is done")
    create.add_argument("--out", help="save the finished MP4 here (implies --wait)")
    create.add_argument("--timeout", type=float, default=None, help="give up waiting after this many seconds")
    create.set_defaults(func=_run(_create))

    feed = sub.add_parser("feed", help="a page of your feed")
    url_option(feed)
    kind = feed.add_mutually_exclusive_group()
    kind.add_argument("--following", dest="kind", action="store_const", const="following", help="the people you follow (default)")
    kind.add_argument("--for-you", dest="kind", action="store_const", const="for_you", help="the ranked feed")
    feed.add_argument("--limit", type=int, default=10)
    feed.set_defaults(func=_run(_feed), kind="following")

    cameo = sub.add_parser("cameo", help="your cameo")
    cameo_sub = cameo.add_subparsers(dest="cameo_command", required=True)
    status = cameo_sub.add_parser("status", help="your cameo and characters, their settings, and requests waiting for you")
    url_option(status)
    status.set_defaults(func=_run(_cameo_status))


def _run(command):
    def run(args: argparse.Namespace) -> int:
        try:
            return asyncio.run(command(args))
        except NotSignedIn:
            _err("not signed in: run `fabula login` first")
            return 2
        except config.ConfigError as exc:
            _err(f"error: {exc}; remove it, or run `fabula login` to write a new one")
            return 2
        except EOFError:
            _err("error: standard input closed before the answer was read: give --handle (and --password-stdin, --birth-date)")
            return 2
        except FabulaAPIError as exc:
            _err(f"error: {exc.message} ({exc.code}, HTTP {exc.status})")
            return 1
        except (TimeoutError, httpx.TimeoutException):  # before OSError, whose kind TimeoutError is
            _err("error: the api did not answer in time")
            return 1
        except (httpx.HTTPError, OSError) as exc:
            _err(f"error: cannot reach the api: {exc or type(exc).__name__}")
            return 1
        except KeyboardInterrupt:
            return 130

    return run


def build_parser(prog: str = "fabula") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Fabula from the command line: sign in, make videos, read your feed.")
    add_user_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def _server_command():
    """The server distribution's own ``fabula`` entry point, where it is installed beside this one."""
    for entry in importlib.metadata.entry_points(group="console_scripts", name="fabula"):
        if entry.dist is not None and entry.dist.name == "fabula":
            return entry.load()
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and not argv[0].startswith("-") and argv[0] not in USER_COMMANDS:
        server_main = _server_command()
        if server_main is not None:
            return server_main(argv)  # dev, api, worker...: the server's commands
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
