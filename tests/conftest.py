"""Fixtures: a real SMTP server on loopback, real databases, a blog that writes comments."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from notifier.db import parse_url
from notifier.demo.sink import SmtpSink
from tests.helpers import Blog
from tests.wp_helpers import Site, start_site, stop_site

PG_ADMIN = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN = os.environ.get("TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test depends on the developer's shell."""
    for key in list(os.environ):
        if key.startswith("NOTIFIER_"):
            monkeypatch.delenv(key)


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    async with SmtpSink() as sink:
        yield sink


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(parse_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _throwaway(admin_url: str) -> Iterator[str]:
    """A database created for one test and dropped after it."""
    name = f"notifier_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin_url, f"CREATE DATABASE {name}"))
    url = parse_url(admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        if admin_url.startswith("postgresql"):
            asyncio.run(_admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        else:
            asyncio.run(_admin(admin_url, f"DROP DATABASE IF EXISTS {name}"))


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _throwaway(PG_ADMIN)


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    yield from _throwaway(MARIADB_ADMIN)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """The native comment store on each database the service supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/comments.db"
    elif request.param == "postgresql":
        yield from _throwaway(PG_ADMIN)
    else:
        yield from _throwaway(MARIADB_ADMIN)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """The state store on each database it supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/state.db"
    else:
        yield from _throwaway(PG_ADMIN)


@pytest.fixture
def sqlite_state(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/state.db"


@pytest.fixture
async def blog(store_url: str) -> AsyncIterator[Blog]:
    """The blog writing comments into the native store, as its own software would."""
    b = Blog(store_url)
    await b.create()
    yield b
    await b.aclose()


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    """The real WordPress test site (scripts/wordpress-setup.sh; idempotent).

    The ``php -S`` server it starts is stopped when the run ends, so no process
    outlives the tests (the database and files stay for the next run).
    """
    try:
        yield start_site()
    finally:
        stop_site()
