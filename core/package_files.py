"""Read a data file that ships inside an installed package or this project's
packages (``importlib.resources``): trained weights, word lists. Blocking;
callers read once per process and keep what they read."""

from __future__ import annotations

from importlib import resources


def read_bytes(package: str, name: str) -> bytes:
    return resources.files(package).joinpath(name).read_bytes()


def read_text(package: str, name: str) -> str:
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")
