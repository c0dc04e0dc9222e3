"""Database URLs as users write them, turned into async SQLAlchemy engines.

Operators write ``postgresql://user@host/db`` or ``mysql://root@host/db``; we
pick the async driver ourselves so they never need to know its name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from notifier.masking import mask_url

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
}


def parse_url(value: str) -> URL:
    """Parse a database URL and give it an async driver, or raise ValueError."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("is not a database URL (e.g. sqlite:///comments.db)") from None
    backend = url.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite, postgresql or mysql")
    driver = _ASYNC_DRIVERS[backend]
    if url.drivername != driver:
        url = url.set(drivername=driver)
    if driver.startswith("mysql") and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def safe_url(value: str) -> str:
    """The URL with any password hidden, for logs and reports (``masking.mask_url``)."""
    return mask_url(value)


# How SQLite, PostgreSQL (asyncpg) and MySQL/MariaDB say a table is not there.
_MISSING_TABLE = ("no such table", "UndefinedTableError", "(1146,")


def missing_table(exc: BaseException) -> bool:
    """Does this database error say that a table does not exist?"""
    text = f"{type(getattr(exc, 'orig', None)).__name__} {exc}"
    return any(marker in text for marker in _MISSING_TABLE)


def _lenient_text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def create_engine(
    value: str,
    *,
    durable: bool = False,
    relaxed: bool = False,
    lenient_text: bool = False,
    **kwargs: Any,
) -> AsyncEngine:
    """An AsyncEngine for ``value``.

    ``durable`` makes SQLite keep its promises: WAL journal and synchronous=FULL,
    so a commit is on disk before the message it records is sent.

    ``relaxed`` is for writes whose loss can only cause a duplicate, never a lost
    message (a "sent" mark, a retry time): commits survive the process being
    killed but not a power cut, and cost no fsync each.  SQLite: WAL with
    synchronous=NORMAL; PostgreSQL: synchronous_commit=off.

    ``lenient_text`` reads SQLite TEXT that is not valid UTF-8 with replacement
    characters.  SQLite stores whatever bytes it is given; by default sqlite3
    raises "Could not decode to UTF-8" on such a value, which for a comment
    store means one bad row fails every poll and blocks the cursor behind it.
    """
    url = parse_url(value)
    if url.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        if relaxed and url.get_backend_name() == "postgresql":
            settings = kwargs.setdefault("connect_args", {}).setdefault("server_settings", {})
            settings["synchronous_commit"] = "off"
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if durable or relaxed:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            if lenient_text:
                # The aiosqlite connection under SQLAlchemy's adapter; its setter
                # reaches the sqlite3 connection, which is not in use yet.
                dbapi_connection.driver_connection.text_factory = _lenient_text

    return engine
