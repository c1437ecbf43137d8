"""Live previews over WebRTC (aiortc): the api answers a client's SDP offer
with a peer that sends one video track of a job's previews, then its
finished clip.

- ``ice``: which host addresses and STUN servers the peers use
  (``FABULA_RTC_HOST_ADDRESSES``, ``FABULA_RTC_ICE_SERVERS``);
- ``track``: the video track, fed pictures and frames by whoever owns it
  (no web framework, no Redis: any process can use it);
- ``clip``: playing a finished clip from the media store into a track;
- ``source``: feeding a track from the job's preview and event streams
  through the process's one stream reader (``server.ws.streams``), so any
  api replica serves any job's track;
- ``peers``: the process's peers: admission (caps per user and in all),
  signalling, timeouts, closing them all at shutdown;
- ``ws``: the same signalling as a WebSocket message (``preview.rtc``).

The HTTP route is ``server.routes.preview_rtc``."""
