"""What the example bots share: finding ``fabula_client`` in a checkout,
their command-line account options, signing in, and ending on an error
with one line (the API's refusal, or a server that cannot be reached)
instead of a traceback."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

try:
    import fabula_client  # noqa: F401  (installed: pip install ./clients)
except ImportError:  # run from a checkout: the package is beside this folder
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fabula_client import FabulaAPIError, FabulaClient  # noqa: E402


BOT_BIRTH_DATE = "2000-01-01"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("url", help="the api, e.g. http://127.0.0.1:8000 (make run)")
    p.add_argument("--handle", help="sign in as this account (default: sign up a new bot account)")
    p.add_argument("--password", help="its password")
    p.add_argument(
        "--birth-date", default=BOT_BIRTH_DATE,
        help=f"signing up: the birth date to declare, YYYY-MM-DD (default {BOT_BIRTH_DATE}: the bot is run by an adult)",
    )
    return p


async def signed_in(args: argparse.Namespace, prefix: str) -> FabulaClient:
    if bool(args.handle) != bool(args.password):
        raise SystemExit("error: --handle and --password go together (without both, a new bot account is signed up)")
    client = FabulaClient(args.url, timeout=120.0)  # a server's first prompt check can take a while
    if args.handle and args.password:
        await client.login(args.handle, args.password)
    else:
        handle = f"{prefix}_{secrets.token_hex(4)}"
        await client.signup(handle, secrets.token_urlsafe(18), args.birth_date)
        print(f"signed up @{handle}", flush=True)
    return client


def run(main: Callable[[], Awaitable[int]]) -> None:
    """Run a bot's ``main`` and exit with its code; the API refusing what the bot
    needs, or a server it cannot reach, ends it with one line on stderr (exit 1)."""
    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        code = 130
    except FabulaAPIError as exc:
        print(f"error: {exc.message} ({exc.code}, HTTP {exc.status})", file=sys.stderr)
        code = 1
    except (httpx.HTTPError, OSError) as exc:
        print(f"error: cannot reach the api: {exc or type(exc).__name__}", file=sys.stderr)
        code = 1
    sys.exit(code)
