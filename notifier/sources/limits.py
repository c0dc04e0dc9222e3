"""How much of each commenter-written field a source reads.

Every field a stranger can fill is cut *in the query* (``substr`` in the SELECT,
the same on SQLite, PostgreSQL and MariaDB), so a 5 MB name or body never
reaches this process and a batch's memory is bounded whatever the store holds.
The limits are far above anything a real name, address, title or URL needs;
bodies are cut at NOTIFIER_MAX_BODY_CHARS.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func

NAME_CHARS = 200
EMAIL_CHARS = 320  # longer than any valid address (254), so a cut one stays invalid
TITLE_CHARS = 300
URL_CHARS = 500
NOTE_CHARS = 500
DEFAULT_BODY_CHARS = 20_000


def cut(column: Any, chars: int, label: str | None = None) -> Any:
    """``column`` cut to its first ``chars`` characters by the database, keeping its name."""
    return func.substr(column, 1, chars).label(label or column.name)


def cut_text(value: str, chars: int) -> str:
    """The same cut, for a source that is not a database (the REST API)."""
    return value[:chars]
