"""Rate limits on the messages a client sends over the socket.

Every incoming frame (whatever its type, valid or not) takes a token from
two buckets in Redis (``core.rate_limit``, one script call): the
connection's (``FABULA_RATE_WS_CONNECTION``) and the user's, shared by all
of their sockets on every api process (``FABULA_RATE_WS_USER``). A frame
refused by either is not handled; the client gets::

    {"type": "error", "id": <the message's id, if it had one>,
     "data": {"code": "rate_limited", "message": "...", "retry_after_s": 0.25, "limit": "ws:conn"}}

and the socket stays open. Until ``retry_after_s`` has passed, frames are
refused here without asking Redis. A client that goes on sending
``FABULA_RATE_WS_CLOSE_AFTER`` refused frames in a row (0: never) gets one
last ``rate_limited`` error and the socket is closed with code 1008
(``CLOSE_RATE_LIMITED``). See docs/WEBSOCKET.md, "Rate limits"."""

from __future__ import annotations

import math
import secrets
import time

from core import rate_limit
from core.stores import Stores


class MessageLimit:
    """The message limits of one connection."""

    def __init__(self, stores: Stores, user_id: str):
        rules = rate_limit.rules(stores.settings)
        self.stores = stores
        self.hits = [(rules.ws_connection, secrets.token_hex(12)), (rules.ws_user, user_id)]
        self.off = all(rule.off for rule, _ in self.hits)
        self.close_after = stores.settings.rate_ws_close_after
        self.refused_in_a_row = 0
        self._until = 0.0  # (monotonic) refused without asking Redis until then
        self._rule = ""

    async def admit(self) -> float | None:
        """None when the next frame may be handled, else the seconds to wait."""
        if self.off:
            return None
        now = time.monotonic()
        if now < self._until:
            self.refused_in_a_row += 1
            return self._until - now
        verdict, rule = await rate_limit.hit_all(self.stores, self.hits)
        if verdict.allowed:
            self.refused_in_a_row = 0
            return None
        self.refused_in_a_row += 1
        self._until = now + verdict.retry_after_s
        self._rule = rule.name if rule is not None else ""
        return verdict.retry_after_s

    @property
    def abusive(self) -> bool:
        """The client went on sending far past the limit: close the socket."""
        return self.close_after > 0 and self.refused_in_a_row >= self.close_after

    def refusal_data(self, retry_after_s: float) -> dict:
        """The data of the ``error`` message for a refused frame."""
        wait = max(0.001, math.ceil(retry_after_s * 1000) / 1000)
        closing = " (the socket closes: too many refused messages)" if self.abusive else ""
        return {
            "code": "rate_limited",
            "message": f"too many messages; wait {wait:g} s before sending again{closing}",
            "retry_after_s": wait,
            "limit": self._rule,
        }
