"""Rendering: a notification becomes a subject, a plain-text body and an HTML body.

Templates live in the top-level ``templates/`` folder (shipped inside the wheel
as ``notifier/templates``); a file of the same name in ``NOTIFIER_TEMPLATES_DIR``
overrides it.  Each template NAME has three files: ``NAME.subject.j2``,
``NAME.txt.j2`` and ``NAME.html.j2``.

Autoescaping is decided by our own rule, not Jinja's ``select_autoescape``: that
helper looks at the *last* extension, so ``x.html.j2`` would not be escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from notifier.errors import TemplateError
from notifier.mail.ack import ack_context
from notifier.mail.route import COMMENTER_ACK, TEMPLATE_NAMES, Notification
from notifier.models import Flag

PARTS = ("subject", "txt", "html")

# Moderators get an excerpt; the InfoLine gets the whole question up to a sane cap.
MODERATOR_BODY_LIMIT = 1500
INFOLINE_BODY_LIMIT = 20_000

_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")

# Links a source may offer for a comment (WordPress's approve/spam/trash screens).
MODERATION_LINKS = ("approve", "spam", "trash", "moderate")

FLAG_REASON_LABELS = {
    "medical_question": "medical question",
    "abuse": "abusive",
    "spam": "spam",
    "off_topic": "off topic",
    "other": "other",
    "held": "put back on hold",
}


def shipped_templates_dir() -> Path:
    """Where the shipped templates are: inside the wheel, or the checkout's top level."""
    package = Path(__file__).parent.parent  # notifier/
    packaged = package / "templates"
    return packaged if packaged.is_dir() else package.parent / "templates"


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html.j2", ".html"))


def clean_body(text: str) -> str:
    """Comment text with line structure kept and everything else unprintable removed."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _BODY_CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def safe_link(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) link, else None (no ``javascript:`` links)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in url for c in "\r\n"):
        return None
    return url.strip()


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def _excerpt(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    space = cut.rfind(" ", limit - 200)
    return (cut[:space] if space > 0 else cut).rstrip(), True


def build_context(
    notification: Notification, *, site_name: str, pending_count: int | None
) -> dict[str, Any]:
    """The template variables for ``notification``: only clean text and checked links."""
    if notification.template == COMMENTER_ACK:
        # A stranger's address may be behind it: a cleaned first name and nothing else.
        return ack_context(notification.comment.author_name, site_name=site_name)
    comment = notification.comment
    limit = (
        INFOLINE_BODY_LIMIT if notification.template == "infoline_forward" else MODERATOR_BODY_LIMIT
    )
    body = clean_body(comment.body)
    excerpt, truncated = _excerpt(body, limit)
    return {
        "site_name": site_name,
        "comment": {
            "id": comment.id,
            "author_name": clean_body(comment.author_name).replace("\n", " ").strip()
            or "(no name)",
            "author_email": clean_body(comment.author_email or "").replace("\n", " ").strip(),
            "reply_to": str(notification.reply_to.addr_spec) if notification.reply_to else None,
            "status": comment.status,
            "created_at": comment.created_at,
            "body": excerpt,
            "body_truncated": truncated,
            "body_length": len(body),
            "parent_id": comment.parent_id,
        },
        "post": {
            "id": comment.post.id,
            "title": clean_body(comment.post.title).replace("\n", " ").strip() or "(untitled)",
            "url": safe_link(comment.post.url),
        },
        "links": {name: safe_link(comment.moderation_links.get(name)) for name in MODERATION_LINKS},
        "flag": _flag_context(notification.flag),
        "pending_count": pending_count,
        "forwarded": notification.forwarded,
        "forwarded_by": notification.forwarded_by,
        "triage": (
            {"score": notification.triage.score, "reasons": list(notification.triage.reasons)}
            if notification.triage is not None
            else None
        ),
        "language": _language(notification)
        if notification.template == "infoline_forward"
        else None,
    }


def _language(notification: Notification) -> dict[str, str]:
    """The comment's language for the InfoLine: the triage's verdict, or detected now."""
    from notifier.triage.language import LANGUAGE_NAMES, detect

    if notification.triage is not None:
        code = notification.triage.language
    else:
        code = detect(notification.comment.body)
    return {"code": code, "name": LANGUAGE_NAMES.get(code, LANGUAGE_NAMES["other"])}


def _flag_context(flag: Flag | None) -> dict[str, Any] | None:
    if flag is None:
        return None
    return {
        "id": flag.id,
        "reason": flag.reason,
        "reason_label": FLAG_REASON_LABELS.get(flag.reason, clean_body(flag.reason)[:40]),
        "note": clean_body(flag.note or "").strip() or None,
        "flagged_by": clean_body(flag.flagged_by or "").replace("\n", " ").strip() or None,
        "created_at": flag.created_at,
    }


def _format_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def unknown_overrides(override_dir: Path) -> list[str]:
    """Files in NOTIFIER_TEMPLATES_DIR that override nothing: a misspelt name is
    otherwise ignored without a word, and the shipped template is used instead."""
    shipped = shipped_templates_dir()
    expected = {f"{name}.{part}.j2" for name in TEMPLATE_NAMES for part in PARTS}
    expected |= {p.name for p in shipped.iterdir() if p.is_file()}
    unknown = sorted(
        p.name
        for p in override_dir.iterdir()
        if not p.name.startswith(".") and p.name not in expected
    )
    if not unknown:
        return []
    return [
        f"NOTIFIER_TEMPLATES_DIR {str(override_dir)!r} has files that override nothing: "
        + ", ".join(unknown)
        + "; expected names are "
        + ", ".join(sorted(expected))
    ]


class Renderer:
    """Renders the three parts of a template, with overrides from ``override_dir``."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self._override_dir = override_dir
        loaders: list[jinja2.BaseLoader] = []
        if override_dir is not None:
            loaders.append(jinja2.FileSystemLoader(override_dir))
        loaders.append(jinja2.FileSystemLoader(shipped_templates_dir()))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=_autoescape,  # noqa: S701 -- escapes every *.html.j2; tested
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["utc"] = _format_time

    def render(self, name: str, context: dict[str, Any]) -> Rendered:
        """Render NAME's subject, text and HTML parts, or raise TemplateError."""
        parts = []
        for part in PARTS:
            filename = f"{name}.{part}.j2"
            try:
                parts.append(self._env.get_template(filename).render(context))
            except jinja2.TemplateNotFound:
                raise TemplateError(filename, "not found") from None
            except jinja2.TemplateError as exc:
                raise TemplateError(filename, f"{type(exc).__name__}: {exc}") from exc
        return Rendered(subject=parts[0].strip(), text=parts[1], html=parts[2])

    def check(self, samples: dict[str, dict[str, Any]]) -> list[str]:
        """Render every template with sample contexts; return the problems found."""
        problems = []
        if self._override_dir is not None:
            problems.extend(unknown_overrides(self._override_dir))
        for name in TEMPLATE_NAMES:
            try:
                self.render(name, samples[name])
            except TemplateError as exc:
                problems.append(str(exc))
        return problems
