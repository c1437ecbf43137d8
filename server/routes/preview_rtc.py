"""The live preview of a video over WebRTC: ``POST
/v1/videos/{id}/preview/rtc`` with the client's SDP offer, answered by a
peer of this api process that sends the job's preview track
(``server.rtc``). The same exchange runs over the WebSocket
(``preview.rtc``, ``server.rtc.ws``)."""

from __future__ import annotations

from litestar import post
from litestar.params import FromPath, JSONBody

from server.auth import AUTH, UserDep
from server.media import media_store
from server.openapi import openai_errors
from server.rtc import peers
from server.state import SettingsDep, StoresDep


@post(
    "/v1/videos/{video_id:str}/preview/rtc",
    dependencies=AUTH,
    status_code=200,
    responses=openai_errors(401, 404, 409, 429, 503),
    tags=["videos"],
)
async def preview_rtc(
    video_id: FromPath[str], data: JSONBody[peers.Offer], stores: StoresDep, settings: SettingsDep, user: UserDep
) -> peers.Answer:
    """Watch one of my videos live over WebRTC: send an SDP offer that
    receives video (``{"sdp", "type": "offer"}``, all candidates gathered),
    get the answer of a peer that sends one video track: the newest preview
    at once, each new denoising step as it is made, then the finished clip
    once, then the track ends. ``peer_id`` names the peer in the server's
    logs. 400 ``invalid_sdp``; 404 ``video_not_found`` (no such video, or
    not mine); 409 ``video_finished`` (it failed); 429 ``too_many_peers``;
    503 ``rtc_busy``."""
    job = await peers.watchable_job(stores, video_id, user.id)
    _, answer = await peers.registry().answer(stores, media_store(settings), user.id, job.id, data)
    return answer


ROUTES = [preview_rtc]
