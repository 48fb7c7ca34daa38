"""Operator logs: one JSON object per line (or plain text), with `canary=<name>.<namespace>` where it applies."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """`{"level": ..., "ts": ..., "logger": ..., "msg": ..., "canary": ...}` per record."""

    def format(self, record: logging.LogRecord) -> str:
        """One line of JSON."""
        out = {
            "level": record.levelname.lower(),
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger message key=value...`."""

    def format(self, record: logging.LogRecord) -> str:
        """One line of text."""
        extra = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_"))
        line = f"{self.formatTime(record)} {record.levelname.lower()} {record.name} {record.getMessage()}"
        return f"{line} {extra}" if extra else line


def configure(level: str, fmt: str) -> None:
    """Send every log record to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    # Flagger's zap levels map onto logging's: warn is WARNING, fatal and panic are CRITICAL
    name = {"WARN": "WARNING", "FATAL": "CRITICAL", "PANIC": "CRITICAL"}.get(level.upper(), level.upper())
    logging.basicConfig(level=getattr(logging, name, logging.INFO), handlers=[handler], force=True)
    for noisy in ("httpx", "httpx2", "httpcore", "httpcore2", "kopf", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
