"""``python -m fabula_client``: the ``fabula`` user commands."""

import sys

from .cli import main

sys.exit(main())
