"""The HTTP, WebSocket and WebRTC surface: the Litestar app factory, auth,
error rendering, request logging and the routes of every domain; the feed's
per-process runtime and the opening builder that runs on it. It wires the
other packages together and is imported by none of them."""
