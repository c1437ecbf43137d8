"""How many sockets each user holds open on this api process.

``admit`` counts a new socket in unless its user holds
``ws_max_connections_per_user`` already (then the socket is refused: an
``error`` ``too_many_connections`` and close code 4429); ``release`` counts
it out when it closes. The cap is per process: every socket of a process
shares its Redis connections, which is what one user must not be able to
take up."""

from __future__ import annotations

_open: dict[str, int] = {}


def admit(user_id: str, limit: int) -> bool:
    held = _open.get(user_id, 0)
    if held >= limit:
        return False
    _open[user_id] = held + 1
    return True


def release(user_id: str) -> None:
    held = _open.get(user_id, 0) - 1
    if held > 0:
        _open[user_id] = held
    else:
        _open.pop(user_id, None)


def held(user_id: str) -> int:
    return _open.get(user_id, 0)
