"""The WebSocket API's machinery: the protocol's messages (``protocol``), one
authenticated connection with its bounded outbox and background tasks
(``connection``), and the message handlers of each domain (``jobs`` …),
gathered by ``server.routes.ws``."""
