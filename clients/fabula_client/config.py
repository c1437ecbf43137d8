"""Where the ``fabula`` user commands keep the api's address and the token.

One JSON file, ``client.json`` in the user's config folder:
``$XDG_CONFIG_HOME/fabula`` (default ``~/.config/fabula``; ``%APPDATA%\\fabula``
on Windows), or the file ``FABULA_CLIENT_CONFIG`` names. It is written with
mode 0600 (the token is a password) through a temporary file and a rename,
and its folder is made 0700."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"  # `make run`


@dataclass
class ClientConfig:
    url: str = DEFAULT_URL
    token: str | None = None
    handle: str | None = None


def config_path() -> Path:
    named = os.environ.get("FABULA_CLIENT_CONFIG")
    if named:
        return Path(named).expanduser()
    if os.name == "nt" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"])
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "fabula" / "client.json"


def load() -> ClientConfig:
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return ClientConfig()
    known = {k: v for k, v in data.items() if k in ClientConfig.__dataclass_fields__}
    return ClientConfig(**known)


def save(config: ClientConfig) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".client.", dir=path.parent)  # made 0600
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(config), out, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def forget() -> None:
    config_path().unlink(missing_ok=True)
