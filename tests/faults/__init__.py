"""The fault suite: a small installation broken on purpose under a steady
mixed load (``harness``), each case short; ``bench/faults.py`` runs the same
cases longer and measures recovery (docs/RELIABILITY.md)."""
