"""Accounts: users, password hashes, bearer tokens, profiles and the
follow/block graph. Owns the ``users``, ``tokens``, ``follows`` and
``blocks`` collections and exposes functions, never their documents.
Imports only core (and third-party code)."""
