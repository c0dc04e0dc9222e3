"""Shared pieces of the benchmark: settings, sinks, bulk-loaded stores, results.

Everything here drives notifier through its public parts (settings, the
native schema, Service/Poller/Deliverer); nothing patches notifier.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notifier.settings import Settings, load_settings
from notifier.sources.native import create_schema

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MAIL_FROM = "Myeloma Blog <notifier@blog.example.org>"
MODERATOR = "moderators@blog.example.org"
INFOLINE = "infoline@charity.example.org"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
MARIADB_ADMIN = "mysql://root@127.0.0.1:3306/mysql"

# A typical comment: a few sentences, plain ASCII, one line (rendered, it is
# folded and quoted-printable-encoded like real ones).
BODY = (
    "Thank you for this post. My father was diagnosed last spring and the clinic "
    "mentioned a trial; your summary of the results made the conversation with "
    "his consultant much easier. Looking forward to the next update."
)


# --- settings ------------------------------------------------------------------


def notifier_env(
    source_url: str, state_url: str, smtp_port: int, **overrides: str
) -> dict[str, str]:
    """NOTIFIER_* variables for a run against a sink on loopback (no TLS, no login)."""
    env = {
        "NOTIFIER_SOURCE_URL": source_url,
        "NOTIFIER_STATE_URL": state_url,
        "NOTIFIER_SMTP_HOST": "127.0.0.1",
        "NOTIFIER_SMTP_PORT": str(smtp_port),
        "NOTIFIER_SMTP_TLS": "none",
        "NOTIFIER_MAIL_FROM": MAIL_FROM,
        "NOTIFIER_MODERATORS": MODERATOR,
        "NOTIFIER_INFOLINE_ADDRESS": INFOLINE,
        "NOTIFIER_SITE_NAME": "Myeloma Blog",
        "NOTIFIER_START_FROM": "beginning",
        # The figures are per email: the burst guard would fold them into digests.
        "NOTIFIER_DIGEST_AFTER": "1000000000",
    }
    env.update({f"NOTIFIER_{k.upper()}": v for k, v in overrides.items()})
    # The lead is adding a connection pool: pass the operator's choice through
    # only when this version of notifier knows the variable.
    if "smtp_connections" in Settings.model_fields and "NOTIFIER_SMTP_CONNECTIONS" in os.environ:
        env.setdefault("NOTIFIER_SMTP_CONNECTIONS", os.environ["NOTIFIER_SMTP_CONNECTIONS"])
    return env


def settings_from(env: Mapping[str, str]) -> Settings:
    return load_settings(env)


def smtp_connections(settings: Settings) -> int:
    """How many SMTP connections notifier uses: the pool size if it has one, else 1."""
    if hasattr(settings, "smtp_connections"):
        return max(1, int(settings.smtp_connections))
    return 1


# --- sinks -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Sink:
    name: str
    port: int
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def postfix_sink() -> Iterator[Sink]:
    """Postfix's smtp-sink on loopback: accepts everything, stores nothing."""
    binary = os.environ.get("SMTP_SINK") or shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    port = free_port()
    # -c: count deliveries; -u root: we run as root and it wants an account to
    # drop privileges to; backlog 1000 so a burst of naive connections queues.
    process = subprocess.Popen(
        [binary, "-c", "-u", "root", f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield Sink("smtp-sink", port, process)
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def aiosmtpd_sink() -> Iterator[Sink]:
    """notifier.demo.sink.SmtpSink (aiosmtpd) in its own process, counting what it gets."""
    process = subprocess.Popen(
        [PYTHON, "-m", "bench.sinkproc"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        wait_for_port(port)
        yield Sink("aiosmtpd", port, process)
    finally:
        process.terminate()
        process.wait(10)


# --- stores ---------------------------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def remove(folder: Path, pattern: str) -> None:
    """Delete ``folder/pattern`` (a glob), e.g. a SQLite file and its -wal and -shm."""
    for path in folder.glob(pattern):
        path.unlink()


async def seed_sqlite(path: Path, comments: int, *, flags_every: int = 100) -> str:
    """A native store at ``path`` with ``comments`` comments, loaded in one statement."""
    remove(path.parent, path.name + "*")
    url = sqlite_url(path)
    await create_schema(url)
    _load_sqlite(path, comments, flags_every)
    return url


def _load_sqlite(path: Path, comments: int, flags_every: int) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode=WAL")  # the blog writes while we read
        with db:
            db.executemany(
                "INSERT INTO posts (id, title, url) VALUES (?, ?, ?)",
                [(p, f"Post {p}", f"https://blog.example.org/p/{p}") for p in range(1, 101)],
            )
            db.execute(
                """
                WITH RECURSIVE n(x) AS (SELECT 1 WHERE ? > 0 UNION ALL
                                        SELECT x + 1 FROM n WHERE x < ?)
                INSERT INTO comments
                  (id, post_id, parent_id, author_name, author_email, body, status, created_at)
                SELECT x, 1 + x % 100, NULL, 'Reader ' || x, 'reader' || x || '@example.net',
                       ?, CASE WHEN x % 10 = 0 THEN 'pending' ELSE 'approved' END,
                       datetime('now', '-' || (? - x) || ' seconds')
                FROM n
                """,
                (comments, comments, BODY, comments),
            )
            if flags_every and comments // flags_every:
                db.execute(
                    """
                    WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
                    INSERT INTO comment_flags
                      (id, comment_id, reason, note, flagged_by, created_at)
                    SELECT x, x * ?, 'off_topic', NULL, 'moderator', datetime('now', '-1 hour')
                    FROM n
                    """,
                    (comments // flags_every, flags_every),
                )
        db.execute("ANALYZE")
    finally:
        db.close()


async def pg_database(name: str) -> str:
    """A fresh, empty PostgreSQL database ``name``; returns its URL."""
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


async def pg_drop(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def seed_postgres(name: str, comments: int, *, flags_every: int = 100) -> str:
    """A native store in a fresh database, loaded with generate_series."""
    import asyncpg

    url = await pg_database(name)
    await create_schema(url)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO posts (id, title, url) SELECT g, 'Post ' || g, "
                "'https://blog.example.org/p/' || g FROM generate_series(1, 100) g"
            )
            await conn.execute(
                """
                INSERT INTO comments
                  (id, post_id, parent_id, author_name, author_email, body, status, created_at)
                SELECT g, 1 + g % 100, NULL, 'Reader ' || g, 'reader' || g || '@example.net',
                       $2, CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'approved' END,
                       (now() at time zone 'utc') - ($1 - g) * interval '1 second'
                FROM generate_series(1, $1::bigint) g
                """,
                comments,
                BODY,
            )
            if flags_every:
                await conn.execute(
                    """
                    INSERT INTO comment_flags (id, comment_id, reason, note, flagged_by, created_at)
                    SELECT g, g * $2, 'off_topic', NULL, 'moderator',
                           (now() at time zone 'utc') - interval '1 hour'
                    FROM generate_series(1, $1::bigint) g
                    """,
                    comments // flags_every,
                    flags_every,
                )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return url


async def seed_mariadb(name: str, comments: int, *, flags_every: int = 100) -> str:
    """A native store in a fresh MariaDB database, loaded from the SEQUENCE engine."""
    import aiomysql

    admin = await aiomysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    try:
        async with admin.cursor() as cur:
            with warnings.catch_warnings():  # "database doesn't exist" is the point
                warnings.simplefilter("ignore")
                await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            await cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        admin.close()
    url = f"mysql://root@127.0.0.1:3306/{name}"
    await create_schema(url)
    conn = await aiomysql.connect(
        host="127.0.0.1", port=3306, user="root", db=name, autocommit=False
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "INSERT INTO posts (id, title, url) SELECT seq, CONCAT('Post ', seq), "
                "CONCAT('https://blog.example.org/p/', seq) FROM seq_1_to_100"
            )
            await cur.execute(
                f"""
                INSERT INTO comments
                  (id, post_id, parent_id, author_name, author_email, body, status, created_at)
                SELECT seq, 1 + MOD(seq, 100), NULL, CONCAT('Reader ', seq),
                       CONCAT('reader', seq, '@example.net'), %s,
                       IF(MOD(seq, 10) = 0, 'pending', 'approved'),
                       UTC_TIMESTAMP() - INTERVAL ({comments} - seq) SECOND
                FROM seq_1_to_{comments}
                """,
                (BODY,),
            )
            if flags_every and comments // flags_every:
                await cur.execute(
                    f"""
                    INSERT INTO comment_flags (id, comment_id, reason, note, flagged_by, created_at)
                    SELECT seq, seq * {flags_every}, 'off_topic', NULL, 'moderator',
                           UTC_TIMESTAMP() - INTERVAL 1 HOUR
                    FROM seq_1_to_{comments // flags_every}
                    """
                )
            await cur.execute("ANALYZE TABLE posts, comments, comment_flags")
        await conn.commit()
    finally:
        conn.close()
    return url


async def mariadb_drop(name: str) -> None:
    import aiomysql

    admin = await aiomysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    try:
        async with admin.cursor() as cur:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        admin.close()


# --- child processes ------------------------------------------------------------


def run_child(
    module: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    timeout: float = 1200,
    clean_rusage: bool = False,
) -> dict[str, Any]:
    """Run ``python -m bench.MODULE ARGS`` in a fresh process; its last stdout line is JSON.

    ``clean_rusage``: Linux keeps ru_maxrss across execve, so a child started
    straight from this (big) process would report at least our own peak.  A
    shell in between forks the child from a small process instead.
    """
    argv = [PYTHON, "-m", f"bench.{module}", *args]
    if clean_rusage:
        # Not `exec`: the shell must fork, so the child's counters start afresh.
        argv = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *argv]
    stderr = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        done = subprocess.run(
            argv,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=stderr,
            timeout=timeout,
            check=False,
        )
    finally:
        if log:
            stderr.close()  # type: ignore[union-attr]
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = ""
        if log and log.exists():
            problems = [
                ln for ln in log.read_text(errors="replace").splitlines() if " INFO " not in ln
            ]
            tail = "\n  " + "\n  ".join(problems[-8:])
        raise RuntimeError(f"bench.{module} {' '.join(args)} failed: rc={done.returncode}{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# --- results --------------------------------------------------------------------


@dataclass
class Figure:
    """One line of the table: a measured value against its reference, and the target."""

    name: str
    value: str
    reference: str
    ratio: float | None
    target: str
    holds: bool | None
    note: str = ""


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # markdown for RESULTS.md


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    from importlib.metadata import version

    versions = {
        name: version(name)
        for name in (
            "notifier",
            "aiosmtplib",
            "aiosmtpd",
            "SQLAlchemy",
            "aiosqlite",
            "asyncpg",
            "aiomysql",
            "Jinja2",
        )
    }

    def cmd(*argv: str) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        except OSError:
            return "?"
        return (
            (out.stdout or out.stderr).strip().splitlines()[0]
            if (out.stdout or out.stderr)
            else "?"
        )

    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": "PostgreSQL " + cmd("psql", "--version").split(") ")[-1].split()[0],
        "mariadb": "MariaDB " + cmd("mariadb", "--version").partition("Distrib ")[2].split("-")[0],
        "postfix": cmd("dpkg-query", "-W", "-f=${Version}", "postfix"),
        **versions,
    }
