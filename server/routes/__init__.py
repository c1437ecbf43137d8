"""Route handlers, one module per domain; ``ROUTES`` in each is registered by the app factory."""

from server.routes import account, admin, app, auth, cameos, feed, health, notifications, posts, preview_rtc, provenance, reports, social, user_cameos, users, videos, ws

ROUTE_MODULES = (health, auth, account, users, videos, preview_rtc, cameos, posts, social, notifications, reports, feed, ws, admin, user_cameos, provenance, app)
