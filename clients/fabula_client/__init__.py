"""fabula_client: Fabula's Python client (httpx + websockets, nothing else).

- ``FabulaClient``: every HTTP route (``client``), the WebSocket
  (``socket``: jobs, previews, swipe sessions, notifications, WebRTC
  signalling);
- ``decode_preview``: the WebSocket's binary preview frames (``previews``);
- ``fabula_client.rtc``: watching a live preview over WebRTC (needs the
  ``rtc`` extra, aiortc);
- ``fabula_client.cli``: the ``fabula`` user commands (login, create,
  feed, cameo status), with the token kept in the user's config folder
  (``config``)."""

from .client import FabulaClient
from .errors import FabulaAPIError
from .previews import PreviewFrame, decode_preview
from .socket import FeedSession, Socket

__all__ = ["FabulaAPIError", "FabulaClient", "FeedSession", "PreviewFrame", "Socket", "decode_preview"]
__version__ = "0.1.0"
