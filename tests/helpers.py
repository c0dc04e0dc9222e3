"""Test helpers: a blog that writes to the native store, and settings for a test."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import insert, update

from notifier.db import create_engine
from notifier.demo.sink import Received, SmtpSink
from notifier.settings import Settings, load_settings
from notifier.sources.native import comment_flags, comments, create_schema, posts

MODERATOR = "moderators@blog.example.org"
MODERATOR_2 = "jo@blog.example.org"
INFOLINE = "infoline@charity.example.org"
MAIL_FROM = "notifier@blog.example.org"


def settings_for(
    smtp: SmtpSink | None, source_url: str, state_url: str, **overrides: str
) -> Settings:
    env = {
        "NOTIFIER_SOURCE_URL": source_url,
        "NOTIFIER_STATE_URL": state_url,
        "NOTIFIER_SMTP_HOST": "127.0.0.1",
        "NOTIFIER_SMTP_PORT": str(smtp.port if smtp else 9),
        "NOTIFIER_SMTP_TLS": "none",
        "NOTIFIER_SMTP_TIMEOUT": "5",
        "NOTIFIER_SEND_TIMEOUT": "10",
        "NOTIFIER_MAIL_FROM": f"Blog <{MAIL_FROM}>",
        "NOTIFIER_MODERATORS": MODERATOR,
        "NOTIFIER_INFOLINE_ADDRESS": INFOLINE,
        "NOTIFIER_START_FROM": "beginning",
        "NOTIFIER_SITE_NAME": "Myeloma Blog",
        # Most tests follow one email per comment through delivery; the burst
        # guard (digests) has its own tests, which set this back to its default.
        "NOTIFIER_DIGEST_AFTER": "1000000",
    }
    env.update({f"NOTIFIER_{k.upper()}": v for k, v in overrides.items()})
    return load_settings({k: v for k, v in env.items() if v is not None})


def environment_for(
    smtp: SmtpSink | None, source_url: str, state_url: str, **overrides: str
) -> dict[str, str]:
    """The same settings as NOTIFIER_* variables, for a subprocess."""
    s = settings_for(smtp, source_url, state_url, **overrides)
    env = {
        "NOTIFIER_SOURCE_URL": s.source_url,
        "NOTIFIER_STATE_URL": s.state_url,
        "NOTIFIER_SMTP_HOST": s.smtp_host,
        "NOTIFIER_SMTP_PORT": str(s.smtp_port),
        "NOTIFIER_SMTP_TLS": s.smtp_tls,
        "NOTIFIER_SMTP_TIMEOUT": str(s.smtp_timeout),
        "NOTIFIER_SEND_TIMEOUT": str(s.send_timeout),
        "NOTIFIER_MAIL_FROM": str(s.mail_from),
        "NOTIFIER_MODERATORS": ",".join(a.addr_spec for a in s.moderators),
        "NOTIFIER_START_FROM": s.start_from,
        "NOTIFIER_SITE_NAME": s.site_name,
        "NOTIFIER_DIGEST_AFTER": str(s.digest_after),
    }
    if s.infoline_address:
        env["NOTIFIER_INFOLINE_ADDRESS"] = s.infoline_address.addr_spec
    env.update({f"NOTIFIER_{k.upper()}": v for k, v in overrides.items()})
    return env


class Blog:
    """Writes posts, comments and flags to a native store, as the blog's software does."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._ids = itertools.count(1)
        self.post_id: int | None = None

    async def create(self) -> None:
        await create_schema(self.url)
        self.post_id = await self.post(
            "Encouraging news about virotherapy", "https://blog.example.org/p/1"
        )

    async def aclose(self) -> None:
        await self.engine.dispose()

    async def post(self, title: str, url: str) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(insert(posts).values(title=title, url=url))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def comment(
        self,
        body: str = "Thank you for this post.",
        *,
        author_name: str = "Tom",
        author_email: str | None = "tom@example.net",
        status: str = "pending",
        id: int | None = None,
        post_id: int | None = None,
        parent_id: int | None = None,
    ) -> int:
        values: dict[str, Any] = {
            "post_id": post_id or self.post_id,
            "parent_id": parent_id,
            "author_name": author_name,
            "author_email": author_email,
            "body": body,
            "status": status,
            "created_at": datetime.now(UTC).replace(tzinfo=None),
        }
        if id is not None:
            values["id"] = id
        async with self.engine.begin() as conn:
            result = await conn.execute(insert(comments).values(**values))
            return int(id if id is not None else result.inserted_primary_key[0])  # type: ignore[index]

    async def set_status(self, comment_id: int, status: str) -> None:
        """A moderator approves, spams or trashes a comment."""
        await set_status_in(self.engine, comment_id, status)

    async def flag(
        self, comment_id: int, reason: str, *, note: str | None = None, by: str = "moderator"
    ) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(comment_flags).values(
                    comment_id=comment_id,
                    reason=reason,
                    note=note,
                    flagged_by=by,
                    created_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]


async def set_status_in(engine: Any, comment_id: int, status: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(comments).where(comments.c.id == comment_id).values(status=status)
        )


def to(received: list[Received], address: str) -> list[EmailMessage]:
    """The messages whose envelope named ``address``."""
    return [r.message for r in received if address in r.rcpt_tos]


def prose(text: str) -> str:
    """``text`` with its line breaks and runs of spaces as single spaces: wrapping aside."""
    return " ".join(text.split())


def quoted(text: str) -> str:
    """The commenter's words in a plain-text part, as prose: the "> " quoting taken off."""
    return prose(" ".join(line[1:] for line in text.splitlines() if line.startswith(">")))


def readable(message: EmailMessage) -> str:
    """Everything a reader could see in ``message``: decoded headers and every part's text."""
    seen = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if not part.is_multipart():
            seen.append(str(part.get_content()))  # type: ignore[attr-defined]
    return "\n".join(seen)


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a multipart/alternative message."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())
