"""What the example bots share: finding ``fabula_client`` in a checkout,
their command-line account options, and signing in."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

try:
    import fabula_client  # noqa: F401  (installed: pip install ./clients)
except ImportError:  # run from a checkout: the package is beside this folder
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fabula_client import FabulaClient  # noqa: E402


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
    client = FabulaClient(args.url, timeout=120.0)  # a server's first prompt check can take a while
    if args.handle and args.password:
        await client.login(args.handle, args.password)
    else:
        handle = f"{prefix}_{secrets.token_hex(4)}"
        await client.signup(handle, secrets.token_urlsafe(18), args.birth_date)
        print(f"signed up @{handle}", flush=True)
    return client
