"""Clients that speak Fabula's wire protocol and import nothing internal:
the async Python SDK (``clients.sdk``) now; CLI, bots and the web app later."""
