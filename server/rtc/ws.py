"""WebRTC signalling on the WebSocket: ``preview.rtc`` ``{video_id, sdp,
type: "offer"}`` is answered by ``preview.rtc`` ``{video_id, peer_id, sdp,
type: "answer"}`` (same ``id``), as ``POST /v1/videos/{id}/preview/rtc``
answers over HTTP. A peer asked for on a socket is closed when the socket
closes; ``preview.rtc.close {peer_id}`` closes it before."""

from __future__ import annotations

import msgspec

from server.media import media_store
from server.rtc import peers
from server.ws import protocol as proto
from server.ws.connection import Connection

TASK_PREFIX = "rtc:"


class RtcOffer(msgspec.Struct, forbid_unknown_fields=True):
    video_id: proto.ObjectId
    sdp: str
    type: str = "offer"


class RtcClose(msgspec.Struct, forbid_unknown_fields=True):
    peer_id: proto.ObjectId


async def _hold(registry: peers.Peers, peer: peers.Peer) -> None:
    """Runs as the socket's task while the peer lives: the socket closing cancels it, which closes the peer."""
    try:
        await peer.closed.wait()
    finally:
        await registry.close(peer, "socket_closed")


async def on_offer(conn: Connection, msg: proto.Message) -> None:
    offer = msgspec.convert(msg.data, RtcOffer)
    job = await peers.watchable_job(conn.stores, offer.video_id, conn.user.id)
    registry = peers.registry()
    peer, answer = await registry.answer(
        conn.stores, media_store(conn.stores.settings), conn.user.id, job.id, peers.Offer(sdp=offer.sdp, type=offer.type)
    )
    conn.start_task(TASK_PREFIX + peer.id, _hold(registry, peer))
    conn.send(proto.out("preview.rtc", {"video_id": job.id, **msgspec.to_builtins(answer)}, msg.id))


async def on_close(conn: Connection, msg: proto.Message) -> None:
    close = msgspec.convert(msg.data, RtcClose)
    if not conn.cancel_task(TASK_PREFIX + close.peer_id):
        conn.send(proto.error("peer_not_found", f"no peer {close.peer_id!r} on this connection", msg.id))
        return
    conn.send(proto.out("preview.rtc.closed", {"peer_id": close.peer_id}, msg.id))


HANDLERS = {"preview.rtc": on_offer, "preview.rtc.close": on_close}
