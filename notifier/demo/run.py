"""``notifier demo``: the whole job on embedded defaults, in a temporary folder.

A SQLite comment store seeded with the shipped sample comments and flags, an
SMTP sink on loopback in this process, one real poll-and-deliver pass through
the same code as ``notifier once``; then what each mailbox received.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy import insert

from notifier.db import create_engine
from notifier.demo.samples import demo_data
from notifier.demo.sink import Received, SmtpSink
from notifier.errors import NotifierError
from notifier.service import run_once
from notifier.settings import load_settings
from notifier.sources.native import comment_flags, comments, create_schema, posts

_SLUG = re.compile(r"[^a-z0-9]+")

MODERATORS = "moderators@blog.example.org"


class DemoError(NotifierError):
    """The demo cannot run as asked."""


INFOLINE = "infoline@charity.example.org"


async def seed_store(url: str) -> None:
    """Create the native schema at ``url`` and fill it with the shipped samples."""
    await create_schema(url)
    data = demo_data()
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(posts), data["posts"])
            for index, c in enumerate(data["comments"]):
                await conn.execute(
                    insert(comments).values(
                        id=index + 1,
                        post_id=c["post"],
                        author_name=c["author_name"],
                        author_email=c["author_email"],
                        body=c["body"],
                        status=c["status"],
                        created_at=start + timedelta(minutes=5 * index),
                    )
                )
            for index, f in enumerate(data["flags"]):
                await conn.execute(
                    insert(comment_flags).values(
                        id=index + 1,
                        comment_id=f["comment"] + 1,
                        reason=f["reason"],
                        note=f["note"],
                        flagged_by=f["flagged_by"],
                        created_at=start + timedelta(minutes=60 + index),
                    )
                )
    finally:
        await engine.dispose()


def save_messages(received: list[Received], folder: Path) -> list[Path]:
    """Each message, exactly as the server received it, as ``NN-mailbox-subject.eml``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, message in enumerate(received, 1):
        box = message.rcpt_tos[0].partition("@")[0] if message.rcpt_tos else "unknown"
        # What tells the messages apart: the subject after its site and post.
        subject = str(message.message["Subject"] or "").rsplit("·", 1)[-1].split("]", 1)[-1]
        label = _SLUG.sub("-", subject.lower()).strip("-")[:48].rstrip("-")
        path = folder / f"{index:02d}-{box}-{label}.eml"
        path.write_bytes(message.data)
        paths.append(path)
    return paths


def print_mailboxes(received: list[Received], out: TextIO) -> None:
    """Per mailbox: the subject, sender and recipients of what arrived."""
    boxes: dict[str, list[Received]] = defaultdict(list)
    for message in received:
        for rcpt in message.rcpt_tos:
            boxes[rcpt].append(message)
    for box in sorted(boxes):
        out.write(f"\n=== {box}: {len(boxes[box])} message(s)\n")
        for m in boxes[box]:
            msg = m.message
            out.write(f"  Subject:  {msg['Subject']}\n")
            out.write(f"    To: {msg['To']}   From: {msg['From']}\n")
            if msg["Reply-To"]:
                out.write(f"    Reply-To: {msg['Reply-To']}\n")
    out.write(f"\n{len(received)} message(s) delivered to the demo's SMTP sink.\n")


def mail_folder(requested: Path | None) -> Path:
    """Where the .eml files go: ``requested`` (new or empty), else a new temporary folder."""
    if requested is None:
        return Path(tempfile.mkdtemp(prefix="notifier-demo-mail-"))
    if requested.exists() and (not requested.is_dir() or any(requested.iterdir())):
        raise DemoError(f"--mail-dir {requested}: not an empty folder; name a new one")
    return requested


async def run_demo(out: TextIO, mail_dir: Path | None = None) -> int:
    """The demo; the messages are written as .eml files to ``mail_dir``, named at the end."""
    eml_folder = mail_folder(mail_dir)
    with tempfile.TemporaryDirectory(prefix="notifier-demo-") as folder:
        store = f"sqlite:///{Path(folder) / 'comments.db'}"
        await seed_store(store)
        async with SmtpSink() as sink:
            settings = load_settings(
                {
                    "NOTIFIER_SOURCE_URL": store,
                    "NOTIFIER_STATE_URL": f"sqlite:///{Path(folder) / 'state.db'}",
                    "NOTIFIER_START_FROM": "beginning",
                    "NOTIFIER_SMTP_HOST": sink.host,
                    "NOTIFIER_SMTP_PORT": str(sink.port),
                    # The sink is on loopback in this process; a real relay needs TLS.
                    "NOTIFIER_SMTP_TLS": "none",
                    "NOTIFIER_MAIL_FROM": "Myeloma Blog <notifier@blog.example.org>",
                    "NOTIFIER_MODERATORS": MODERATORS,
                    "NOTIFIER_INFOLINE_ADDRESS": INFOLINE,
                    "NOTIFIER_SITE_NAME": "Myeloma Blog",
                    "NOTIFIER_SITE_URL": "https://blog.example.org",
                }
            )
            out.write(
                f"Demo: {len(demo_data()['comments'])} sample comments and "
                f"{len(demo_data()['flags'])} flags in {store}\n"
                f"SMTP sink listening on {sink.host}:{sink.port}\n"
            )
            status = await run_once(settings)
            # More than NOTIFIER_DIGEST_AFTER notifications at once: the rest wait for
            # a digest at the end of the window.  Run again as if the window had passed.
            window = timedelta(seconds=settings.digest_window)
            status = max(
                status, await run_once(settings, flow_clock=lambda: datetime.now(UTC) + window)
            )
        print_mailboxes(sink.received, out)
        out.write(
            f"The moderators got the first {settings.digest_after} notifications at once and "
            f"the rest in one digest {settings.digest_window / 60:g} minutes later "
            "(simulated); the InfoLine gets every question on its own.\n"
        )
    saved = save_messages(sink.received, eml_folder)
    out.write(
        f"{len(saved)} message(s) written as .eml files to {eml_folder}{os.sep}\n"
        "  open them with a mail client, e.g. thunderbird or: xdg-open FILE.eml\n"
    )
    return status
