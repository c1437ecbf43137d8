"""Per-process state the routes reach through dependencies."""

from __future__ import annotations

from litestar.datastructures import State

from core.settings import Settings
from core.stores import Stores


def get_stores(state: State) -> Stores:
    return state.stores


def get_settings(state: State) -> Settings:
    return state.settings
