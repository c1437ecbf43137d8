"""The Python SDK under its historical name: ``from clients.sdk import
FabulaClient`` is ``fabula_client.FabulaClient`` (``clients/fabula_client``,
installable on its own with ``pip install ./clients``)."""

from .fabula_client import FabulaAPIError, FabulaClient, FeedSession, PreviewFrame, Socket, decode_preview

__all__ = ["FabulaAPIError", "FabulaClient", "FeedSession", "PreviewFrame", "Socket", "decode_preview"]
