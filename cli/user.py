"""The ``fabula`` commands for people (``login``, ``create``, ``feed``,
``cameo status``…): the Python client's own (``clients/fabula_client/cli.py``),
so that ``fabula`` from this package and from ``pip install ./clients`` take
the same commands."""

from clients.fabula_client.cli import add_user_commands

__all__ = ["add_user_commands"]
