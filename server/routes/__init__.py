"""Route handlers, one module per domain; ``ROUTES`` in each is registered by the app factory."""

from server.routes import admin, auth, cameos, feed, health, notifications, posts, social, users, videos, ws

ROUTE_MODULES = (health, auth, users, videos, cameos, posts, social, notifications, feed, ws, admin)
