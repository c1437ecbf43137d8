"""Per-process state the routes reach through dependencies.

Handlers name the app-level dependencies with these aliases, so that Litestar
injects them by name (``stores: StoresDep``, ``settings: SettingsDep``)."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency

from core.settings import Settings
from core.stores import Stores

StoresDep = NamedDependency[Stores]
"""The ``stores`` dependency: the process's :class:`~core.stores.Stores`."""

SettingsDep = NamedDependency[Settings]
"""The ``settings`` dependency: the process's :class:`~core.settings.Settings`."""


def get_stores(state: State) -> Stores:
    return state.stores


def get_settings(state: State) -> Settings:
    return state.settings
