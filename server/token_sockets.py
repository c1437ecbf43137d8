"""Closing the WebSockets of a revoked token, on every api process.

Each process keeps a map of token digest → the connections it holds that
were opened with that token. Revocations (logout, log out everywhere, a
password change, account deletion) are announced by ``accounts.tokens`` on
``REVOKED`` (a ``core.broadcast``): the revoking process hears it at once,
the others through one Redis subscription per process
(``core.subscription``). Each closes its own connections of those tokens
with 4401 after the messages already queued for them.

A revocation is never missed for good: a connection is registered, and the
subscription live, before its token is checked once more (a revocation
between the handshake and the registration is caught by that check); and
after the subscription reconnects (messages published while it was away are
not replayed) every held token is checked again."""

from __future__ import annotations

import asyncio
import logging

from accounts import tokens
from core.stores import Stores
from core.subscription import Subscription
from server.ws import protocol as proto
from server.ws.connection import Connection

log = logging.getLogger("fabula.ws")

READY_WAIT_S = 5.0
REASON = "token revoked"


class TokenSockets:
    def __init__(self, stores: Stores):
        self.stores = stores
        self.loop = asyncio.get_running_loop()
        self.by_digest: dict[str, set[Connection]] = {}
        self.subscription = Subscription(
            stores, {tokens.REVOKED.key(stores): tokens.REVOKED.receive}, name="token-revocations", on_connect=self._reconnected
        )
        self._unlisten = tokens.REVOKED.listen(self._revoked)
        self._checks: set[asyncio.Task] = set()

    def _revoked(self, message: tokens.RevokedTokens) -> None:
        for token_digest in message.digests:
            for conn in self.by_digest.pop(token_digest, ()):
                conn.end(proto.CLOSE_UNAUTHORIZED, REASON)

    def _reconnected(self) -> None:
        if self.subscription.connects > 1 and self.by_digest:
            task = asyncio.create_task(self.check(list(self.by_digest)))
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)

    async def check(self, digests: list[str]) -> None:
        """Close the connections of those of ``digests`` that are no longer live."""
        for token_digest in digests:
            try:
                live = await tokens.resolve_digest(self.stores, token_digest)
            except Exception:
                log.warning("token check failed", exc_info=True)
                continue
            if live is None:
                self._revoked(tokens.RevokedTokens(digests=[token_digest]))

    def add(self, token_digest: str, conn: Connection) -> None:
        self.by_digest.setdefault(token_digest, set()).add(conn)
        self.subscription.start()

    def remove(self, token_digest: str, conn: Connection) -> None:
        held = self.by_digest.get(token_digest)
        if held is not None:
            held.discard(conn)
            if not held:
                del self.by_digest[token_digest]

    async def close(self) -> None:
        self._unlisten()
        await self.subscription.stop()


_sockets: TokenSockets | None = None


def token_sockets(stores: Stores) -> TokenSockets:
    """This process's registry (one per event loop)."""
    global _sockets
    if _sockets is None or _sockets.loop is not asyncio.get_running_loop() or _sockets.stores is not stores:
        if _sockets is not None:
            _sockets._unlisten()
        _sockets = TokenSockets(stores)
    return _sockets


async def watch(conn: Connection, token: str) -> None:
    """Close ``conn`` (4401) when ``token``, which opened it, is revoked."""
    registry = token_sockets(conn.stores)
    token_digest = tokens.digest(token)
    registry.add(token_digest, conn)

    async def hold() -> None:
        try:
            await asyncio.Future()  # until the connection closes and cancels it
        finally:
            registry.remove(token_digest, conn)

    conn.start_task("token", hold())
    await registry.subscription.wait_ready(READY_WAIT_S)
    await registry.check([token_digest])
