"""Shared infrastructure: settings, Mongo and Redis connections, ids, clock,
errors, logging, the embedded dev/test services and the Structs that cross
process boundaries. Imports only the standard library and third-party code."""
