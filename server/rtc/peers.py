"""The api process's WebRTC peers: admission, signalling, timeouts and
closing.

``answer`` takes a client's SDP offer for one of its jobs and returns the
answer of a new peer that sends the job's preview track
(``server.rtc.source``). The offer must receive video; anything aiortc
cannot read, or an offer without a video section it may send on, is 400
``invalid_sdp``. A process holds at most ``rtc_max_peers`` peers (one more:
503 ``rtc_busy``) and a user at most ``rtc_max_peers_per_user`` of them
(429 ``too_many_peers``).

Each peer is closed, and forgotten, when the first of these happens:

- it is not connected ``rtc_connect_timeout_s`` after its answer;
- its connection fails or closes (the client went away: ICE consent
  stops, or DTLS closed);
- its track ended (the job ended and its clip was played), after the last
  frame went out;
- it has lived ``rtc_max_session_s``;
- the client's WebSocket that asked for it closes (``server.rtc.ws``);
- the api shuts down (``close_all``, from the app's shutdown hook).

Candidates are gathered before the answer is returned (no trickle ICE):
with host candidates only this takes about a millisecond; each STUN server
in ``rtc_ice_servers`` adds a round trip."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter

import msgspec
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import SessionDescription

from core.errors import BadRequest, Conflict, NotFound, RateLimited, Unavailable
from core.media_store import MediaStore
from core.settings import Settings
from core.stores import Stores
from gen import jobs
from server.rtc import ice
from server.rtc.source import feed_track
from server.rtc.track import PreviewTrack

log = logging.getLogger("fabula.rtc")

MAX_SDP_CHARS = 60_000  # a browser's offer is a few KB


class Offer(msgspec.Struct, forbid_unknown_fields=True):
    sdp: str
    type: str = "offer"


class Answer(msgspec.Struct, kw_only=True):
    sdp: str
    type: str = "answer"
    peer_id: str


class Peer:
    def __init__(self, user_id: str, video_id: str, pc: RTCPeerConnection, track: PreviewTrack):
        self.id = "rtc_" + uuid.uuid4().hex[:20]
        self.user_id = user_id
        self.video_id = video_id
        self.pc = pc
        self.track = track
        self.connected = asyncio.Event()
        self.gone = asyncio.Event()  # the connection failed or closed
        self.closed = asyncio.Event()  # closed by us, for whatever reason
        self.reason = ""
        self.created = asyncio.get_running_loop().time()
        self.tasks: list[asyncio.Task] = []


async def watchable_job(stores: Stores, video_id: str, user_id: str) -> jobs.Job:
    """The job ``user_id`` may watch live: the WebSocket preview's rule (one's
    own videos; 404 ``video_not_found`` otherwise). A failed job has nothing to
    show: 409 ``video_finished``; a completed one's track plays its clip."""
    job = await jobs.get_job(stores, video_id)
    if job is None or job.owner_id != user_id:
        raise NotFound(f"no video {video_id!r}", code="video_not_found")
    if job.status == "failed":
        raise Conflict(f"video {video_id!r} failed; it has nothing to show", code="video_finished")
    return job


def _invalid_sdp(why: str) -> BadRequest:
    return BadRequest(f"the offer is not a usable SDP offer: {why}", code="invalid_sdp")


def _offered_direction(sdp: str, kind: str) -> str | None:
    """The direction the offer gives its first ``kind`` section, as the offerer
    sees it (``sendrecv`` when it names none), or None without one. The
    transceiver aiortc makes for it holds the answerer's own direction
    (always able to receive), so the offer's is read from the SDP itself."""
    for media in SessionDescription.parse(sdp).media:
        if media.kind == kind:
            return media.direction or "sendrecv"
    return None


class Peers:
    """One process's peers (``registry()``)."""

    def __init__(self) -> None:
        self.peers: dict[str, Peer] = {}
        self.loop = asyncio.get_running_loop()

    def count(self, user_id: str | None = None) -> int:
        if user_id is None:
            return len(self.peers)
        return sum(1 for p in self.peers.values() if p.user_id == user_id)

    def by_user(self) -> Counter:
        return Counter(p.user_id for p in self.peers.values())

    def _admit(self, settings: Settings, user_id: str) -> None:
        if self.count() >= settings.rtc_max_peers:
            raise Unavailable(
                "this server sends as many live previews as it can; watch over the WebSocket instead",
                code="rtc_busy",
                headers={"Retry-After": "5"},
            )
        if self.count(user_id) >= settings.rtc_max_peers_per_user:
            raise RateLimited(
                f"a user watches at most {settings.rtc_max_peers_per_user} live previews at once; close one",
                code="too_many_peers",
                headers={"Retry-After": "1"},
            )

    async def answer(self, stores: Stores, media: MediaStore, user_id: str, video_id: str, offer: Offer) -> tuple[Peer, Answer]:
        """A new peer for ``offer``, sending ``video_id``'s preview track (the caller checked the job is the user's)."""
        settings = stores.settings
        if offer.type != "offer":
            raise _invalid_sdp(f"type must be 'offer', not {offer.type!r}")
        if not offer.sdp.strip() or len(offer.sdp) > MAX_SDP_CHARS:
            raise _invalid_sdp(f"sdp must be 1 to {MAX_SDP_CHARS} characters")
        self._admit(settings, user_id)
        pc = RTCPeerConnection(ice.configure(settings))
        track = PreviewTrack()
        peer = Peer(user_id, video_id, pc, track)
        self.peers[peer.id] = peer  # counted at once: concurrent offers cannot pass the caps together
        try:
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
            except Exception as exc:  # aiortc raises ValueError, KeyError, IndexError... on what it cannot read
                raise _invalid_sdp(f"{type(exc).__name__}: {exc}"[:300]) from None
            video = [t for t in pc.getTransceivers() if t.kind == "video"]
            if not video or _offered_direction(offer.sdp, "video") not in ("recvonly", "sendrecv"):
                raise _invalid_sdp("it must have a video section that receives (recvonly or sendrecv)")
            pc.addTrack(track)
            for extra in pc.getTransceivers():
                if extra is not video[0] and extra.sender.track is None:
                    extra.direction = "inactive"  # audio or a second video: nothing to send on it
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            self.peers.pop(peer.id, None)
            track.stop()
            await pc.close()
            raise

        @pc.on("connectionstatechange")
        def _state() -> None:
            state = pc.connectionState
            if state == "connected":
                peer.connected.set()
            elif state in ("failed", "closed"):
                peer.gone.set()

        peer.tasks.append(asyncio.create_task(feed_track(stores, media, video_id, track), name=f"rtc-feed-{peer.id}"))
        peer.tasks.append(asyncio.create_task(self._watch(peer, settings), name=f"rtc-watch-{peer.id}"))
        log.info("rtc peer opened", extra={"peer": peer.id, "video_id": video_id, "user_id": user_id})
        local = pc.localDescription
        return peer, Answer(sdp=local.sdp, type=local.type, peer_id=peer.id)

    async def _watch(self, peer: Peer, settings: Settings) -> None:
        reason = "ended"
        try:
            try:
                await asyncio.wait_for(_first(peer.connected, peer.gone), settings.rtc_connect_timeout_s)
            except TimeoutError:
                reason = "connect_timeout"
                return
            if not peer.connected.is_set():
                reason = "failed"
                return
            left = settings.rtc_max_session_s - (self.loop.time() - peer.created)
            try:
                await asyncio.wait_for(_first(peer.gone, peer.track.ended), max(left, 0.0))
            except TimeoutError:
                reason = "max_session"
                return
            reason = "gone" if peer.gone.is_set() else "ended"
        finally:
            await self.close(peer, reason)

    async def close(self, peer: Peer, reason: str = "closed") -> None:
        if peer.closed.is_set():
            return
        peer.closed.set()
        peer.reason = reason
        self.peers.pop(peer.id, None)
        current = asyncio.current_task()
        for task in peer.tasks:
            if task is not current:
                task.cancel()
        peer.track.stop()
        try:
            await peer.pc.close()
        except Exception:
            log.exception("rtc peer close failed", extra={"peer": peer.id})
        log.info("rtc peer closed", extra={"peer": peer.id, "video_id": peer.video_id, "reason": reason, "frames": peer.track.sent})

    async def close_all(self) -> None:
        await asyncio.gather(*(self.close(p, "shutdown") for p in list(self.peers.values())), return_exceptions=True)


async def _first(*events: asyncio.Event) -> None:
    """Return when the first of ``events`` is set."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


_registry: Peers | None = None


def registry() -> Peers:
    """This process's peers (one registry per event loop)."""
    global _registry
    if _registry is None or _registry.loop is not asyncio.get_running_loop():
        _registry = Peers()
    return _registry


async def close_all() -> None:
    """Close every peer of this process (the api's shutdown)."""
    if _registry is not None and _registry.loop is asyncio.get_running_loop():
        await _registry.close_all()
