"""Cameo tests: policy decisions, the cameo stores, liveness and the routes."""
