"""Logging set up once, at start-up: one line per event, with its action and ids."""

from __future__ import annotations

import logging
import sys

# Attributes every LogRecord has; anything else was passed in ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class KeyValueFormatter(logging.Formatter):
    """``time LEVEL logger message key=value ...`` so lines can be grepped by action or id."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        return f"{line} {fields}" if fields else line


# Templates whose recipient is a commenter: their address is personal data.
_TO_COMMENTER = frozenset({"commenter_ack"})


def shown_recipient(template: str, recipient: str) -> str:
    """The recipient as a log line may show it: a commenter's address only at DEBUG."""
    if template in _TO_COMMENTER and not logging.getLogger("notifier").isEnabledFor(logging.DEBUG):
        return "the commenter"
    return recipient


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler logs every job run at INFO; our own poll line says more.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd, in the demo
