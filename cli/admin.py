"""``fabula admin grant|revoke|list``: administrator rights, stored on the
user document (``accounts.admins``). Connects to the servers the ``FABULA_*``
settings name; without ``FABULA_MONGO_URL``, to a running ``fabula dev``
under ``--data`` (default ./var)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from core.settings import Settings, load_settings


def _settings(data: str) -> Settings:
    env = dict(os.environ)
    if "FABULA_MONGO_URL" not in env:
        from cli.dev import running_dev_env

        found = running_dev_env(Path(data))
        if found is None:
            raise SystemExit(f"fabula admin: set FABULA_MONGO_URL, or start `fabula dev --data {data}` first")
        env = {**found, **env}
    return load_settings(env)


async def _run(action: str, handle: str | None, settings: Settings) -> int:
    from accounts import admins
    from core.stores import open_stores

    stores = open_stores(settings)
    try:
        if action == "list":
            for user in await admins.list_admins(stores):
                print(user.handle)
            return 0
        assert handle is not None
        user = await admins.set_admin(stores, handle, action == "grant")
        if user is None:
            print(f"fabula admin: no such user: {handle}", file=sys.stderr)
            return 1
        print(f"{user.handle} ({user.id}) is {'now' if action == 'grant' else 'no longer'} an administrator")
        return 0
    finally:
        await stores.close()


def run_admin(action: str, handle: str | None, data: str = "var") -> int:
    return asyncio.run(_run(action, handle, _settings(data)))
