"""Watching a video's live preview over WebRTC (needs ``aiortc``: ``pip
install 'fabula-client[rtc]'``).

``open_rtc_preview(client, video_id)`` makes a receiving peer, sends its
offer (``POST /v1/videos/{id}/preview/rtc``, or any ``signal`` coroutine,
e.g. a socket's ``preview_rtc``), and returns once the connection is up;
``frames()`` then yields each decoded frame (``av.VideoFrame``) until the
server ends the track (the job ended and its clip was played).

ICE: aioice, aiortc's ICE library, never offers 127.0.0.1, so a client on
a machine whose only interface is loopback has no candidate.
``use_host_addresses(["127.0.0.1"])`` makes this process's peers offer the
given addresses instead (``host_addresses=`` does it for one call); with
none given, loopback is offered only when the machine has no other
address."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

Signal = Callable[[str], Awaitable[dict[str, Any]]]

_aioice_choice = aioice.ice.get_host_addresses
_addresses: list[str] = []


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _addresses:
        return [a for a in _addresses if (use_ipv4 if ipaddress.ip_address(a).version == 4 else use_ipv6)]
    return _aioice_choice(use_ipv4=use_ipv4, use_ipv6=use_ipv6) or (["127.0.0.1"] if use_ipv4 else [])


def use_host_addresses(addresses: Sequence[str] = ()) -> None:
    """Offer ``addresses`` as ICE host candidates from this process's peers (empty: the machine's, or loopback)."""
    _addresses[:] = [str(ipaddress.ip_address(a)) for a in addresses]
    aioice.ice.get_host_addresses = _host_addresses


class RtcPreview:
    """A connected receiving peer and its video track."""

    def __init__(self, pc: RTCPeerConnection, track: MediaStreamTrack, answer: dict[str, Any]):
        self.pc = pc
        self.track = track
        self.answer = answer
        self.peer_id: str | None = answer.get("peer_id")

    async def frames(self) -> AsyncIterator[Any]:
        """Each frame as it is decoded, until the track ends."""
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                return
            yield frame

    async def close(self) -> None:
        await self.pc.close()

    async def __aenter__(self) -> "RtcPreview":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_rtc_preview(
    client: Any,
    video_id: str,
    *,
    signal: Signal | None = None,
    host_addresses: Sequence[str] | None = None,
    timeout: float = 10.0,
) -> RtcPreview:
    """Connect a peer that receives ``video_id``'s preview track; TimeoutError
    when it is not connected within ``timeout`` seconds (the peer is closed)."""
    if host_addresses is not None:
        use_host_addresses(host_addresses)
    elif aioice.ice.get_host_addresses is _aioice_choice:
        use_host_addresses(())  # aioice's choice, with loopback when there is nothing else
    send = signal or (lambda sdp: client.preview_rtc(video_id, sdp))
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    loop = asyncio.get_running_loop()
    got_track: asyncio.Future[MediaStreamTrack] = loop.create_future()
    connected: asyncio.Future[None] = loop.create_future()

    @pc.on("track")
    def _on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video" and not got_track.done():
            got_track.set_result(track)

    @pc.on("connectionstatechange")
    def _on_state() -> None:
        if connected.done():
            return
        if pc.connectionState == "connected":
            connected.set_result(None)
        elif pc.connectionState in ("failed", "closed"):
            connected.set_exception(ConnectionError(f"the preview peer's connection {pc.connectionState}"))

    try:
        await pc.setLocalDescription(await pc.createOffer())
        answer = await send(pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        async with asyncio.timeout(timeout):
            track = await got_track
            await connected
    except BaseException:
        for waiting in (got_track, connected):  # nobody awaits them now: closing must not set an unread error
            waiting.cancel()
        with contextlib.suppress(Exception):
            await pc.close()
        raise
    return RtcPreview(pc, track, answer)
