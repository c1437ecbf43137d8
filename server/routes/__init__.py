"""Route handlers, one module per domain; ``ROUTES`` in each is registered by the app factory."""

from server.routes import auth, feed, health, posts, users, videos, ws

ROUTE_MODULES = (health, auth, users, videos, posts, feed, ws)
