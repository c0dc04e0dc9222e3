"""Logging set up once, at start-up: one line per event, with its action and ids.

``NOTIFIER_LOG_FORMAT=text`` (the default) writes ``time LEVEL logger message
key=value ...``; ``json`` writes one JSON object per line for a log shipper.
Either way one record is one line: a traceback or an SQL statement inside an
error is folded into it, never spread over lines that grep cannot tie together.
Times are UTC, ISO 8601.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else was passed in ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

# What joins the lines of a multi-line message in text mode: visible, and greppable.
FOLD = " | "


def _utc(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fold(text: str) -> str:
    return FOLD.join(line.rstrip() for line in text.splitlines() if line.strip())


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class KeyValueFormatter(logging.Formatter):
    """``time LEVEL logger message key=value ...`` on one line, so it can be grepped."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            message = f"{message}\n{record.stack_info}"
        line = f"{_utc(record)} {record.levelname} {record.name} {_fold(message)}"
        fields = " ".join(f"{k}={_fold(str(v))}" for k, v in _fields(record).items())
        return f"{line} {fields}" if fields else line


# Templates whose recipient is a commenter: their address is personal data.
_TO_COMMENTER = frozenset({"commenter_ack"})


def shown_recipient(template: str, recipient: str) -> str:
    """The recipient as a log line may show it: a commenter's address only at DEBUG."""
    if template in _TO_COMMENTER and not logging.getLogger("notifier").isEnabledFor(logging.DEBUG):
        return "the commenter"
    return recipient


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler logs every job run at INFO; our own poll line says more.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd, in the demo
