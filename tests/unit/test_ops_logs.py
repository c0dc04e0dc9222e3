"""Log lines: one record is one line, in text and in JSON, with UTC times."""

from __future__ import annotations

import json
import logging

import pytest

from notifier.logs import configure


def _emit(capsys: pytest.CaptureFixture[str], log_format: str) -> list[str]:
    configure("INFO", log_format)
    log = logging.getLogger("notifier.test")
    try:
        raise RuntimeError(
            "(sqlite3.OperationalError) no such table: comments\n[SQL: SELECT 1\nFROM comments]"
        )
    except RuntimeError:
        log.exception("poll failed", extra={"action": "poll_failed", "stream": "comments"})
    log.info("two\nlines", extra={"action": "demo"})
    logging.getLogger().handlers.clear()
    return capsys.readouterr().err.splitlines()


def test_text_lines_fold_tracebacks_and_sql_into_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = _emit(capsys, "text")
    assert len(lines) == 2
    first = lines[0]
    assert "ERROR notifier.test poll failed | Traceback" in first
    assert "[SQL: SELECT 1 | FROM comments]" in first
    assert first.endswith("action=poll_failed stream=comments")
    assert first[:24].endswith("Z") and first[10] == "T"


def test_json_lines_are_one_object_each(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _emit(capsys, "json")
    assert len(lines) == 2
    error, info = (json.loads(line) for line in lines)
    assert error["level"] == "ERROR" and error["logger"] == "notifier.test"
    assert error["action"] == "poll_failed" and "no such table" in error["exception"]
    assert error["time"].endswith("Z")
    assert info["message"] == "two\nlines"
