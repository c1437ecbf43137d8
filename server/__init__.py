"""The web layer: the Litestar app factory, auth, error rendering, request
logging, the HTTP routes of every domain (``server.routes``), the WebSocket
(``server.ws``) and the wire views the routes and the socket share. It wires
the other packages together and is imported by none of them; the feed's
per-process runtime it serves from is ``feed.live``."""
