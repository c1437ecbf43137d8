"""Telling every api process about a change: the process that made it at
once, the others through Redis pub/sub.

``Broadcast(channel, Message)`` is one kind of change. ``announce`` calls this
process's listeners before it returns (so the request that made the change
sees it applied), then PUBLISHes ``<origin>\\n<json>`` on ``{ns}:<channel>``;
``receive`` (wired to the process's subscription, ``core.subscription``) decodes
a message and calls the listeners, skipping the process's own. A listener is
a plain function and must not block. Delivery to other processes is at most
once: a listener that must never miss a change also re-reads on its own."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec

from core.stores import Stores

log = logging.getLogger("fabula.broadcast")

ORIGIN = secrets.token_hex(8).encode()  # this process

M = TypeVar("M")


class Broadcast(Generic[M]):
    def __init__(self, channel: str, message_type: type[M]):
        self.channel = channel
        self._listeners: list[Callable[[M], object]] = []
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder(message_type).decode

    def key(self, stores: Stores) -> str:
        return stores.key(self.channel)

    def listen(self, listener: Callable[[M], object]) -> Callable[[], None]:
        """Call ``listener`` with every change; returns the function that stops it."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop

    def _tell(self, message: M) -> None:
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:
                log.exception("%s: listener failed", self.channel)

    async def announce(self, stores: Stores, message: M) -> None:
        self._tell(message)
        await stores.redis.publish(self.key(stores), ORIGIN + b"\n" + self._encode(message))

    def receive(self, raw: bytes | str) -> None:
        data = raw.encode() if isinstance(raw, str) else raw
        origin, _, body = data.partition(b"\n")
        if origin == ORIGIN:
            return
        try:
            message = self._decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("%s: malformed message dropped", self.channel)
            return
        self._tell(message)
