"""Structured JSON-line logging with the current request id attached."""

from __future__ import annotations

import contextvars
import logging
import re
import sys

import msgspec

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_encoder = msgspec.json.Encoder(enc_hook=repr)  # anything unusual in a record is logged by its repr
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


# bearer tokens may ride in a WebSocket URL (?token=…); they never reach a log line
_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s\"']+")


def redact(text: str) -> str:
    return _TOKEN_IN_URL.sub(r"\1[redacted]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        rid = request_id.get()
        if rid:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return redact(_encoder.encode(out).decode())


def setup_logging(level: str = "INFO", json: bool = True, process: str = "fabula") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("fabula").info("logging ready", extra={"role": process})
