"""Where the ``fabula`` user commands keep the api's address and the token.

One JSON file, ``client.json`` in the user's config folder:
``$XDG_CONFIG_HOME/fabula`` (default ``~/.config/fabula``; ``%APPDATA%\\fabula``
on Windows), or the file ``FABULA_CLIENT_CONFIG`` names. It is written with
mode 0600 (the token is a password) through a temporary file and a rename;
the default folder is kept 0700 (made so, or set back to it), a folder
``FABULA_CLIENT_CONFIG`` names is left as it is. A file that is not such a
JSON object raises ``ConfigError`` (the commands say which file)."""

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


class ConfigError(Exception):
    """The config file is there but is not a client config."""


def load() -> ClientConfig:
    """The saved config; the defaults when there is no file."""
    path = config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return ClientConfig()
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path} is not JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), (str, type(None))) for k in ClientConfig.__dataclass_fields__):
        raise ConfigError(f"{path} is not a client config: a JSON object of url, token and handle")
    known = {k: v for k, v in data.items() if k in ClientConfig.__dataclass_fields__}
    return ClientConfig(**known)


def save(config: ClientConfig) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not os.environ.get("FABULA_CLIENT_CONFIG") and os.name != "nt":
        os.chmod(path.parent, 0o700)  # the default folder is ours: set back if it was opened up
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
