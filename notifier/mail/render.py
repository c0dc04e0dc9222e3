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
import textwrap
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import jinja2

from notifier.errors import TemplateError
from notifier.mail.ack import ack_context
from notifier.mail.clean import clean_body, clean_line, shorten, snippet, strip_markup
from notifier.mail.links import site_link
from notifier.mail.route import COMMENTER_ACK, INFOLINE_FORWARD, TEMPLATE_NAMES, Notification
from notifier.models import Flag

PARTS = ("subject", "txt", "html")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n){2,}")

ModeratorMail = Literal["full", "excerpt", "minimal"]

# Moderators get an excerpt; the InfoLine gets the whole question up to a sane cap.
MODERATOR_BODY_LIMIT = 1500
INFOLINE_BODY_LIMIT = 20_000
# NOTIFIER_MODERATOR_MAIL=excerpt: a few lines, enough to judge, not the story.
EXCERPT_LIMIT = 280
NAME_LIMIT = 100
TITLE_LIMIT = 200
# Subjects: a stable part per post, then who wrote and a taste of what.
SUBJECT_TITLE_LIMIT = 60
SUBJECT_NAME_LIMIT = 40
SUBJECT_EXCERPT_LIMIT = 60
TEXT_WIDTH = 72

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


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def _excerpt(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    space = cut.rfind(" ", max(0, limit - 200))
    return (cut[:space] if space > 0 else cut).rstrip(), True


def build_context(
    notification: Notification,
    *,
    site_name: str,
    pending_count: int | None,
    site_url: str | None = None,
    moderator_mail: ModeratorMail = "full",
) -> dict[str, Any]:
    """The template variables for ``notification``: only clean text and checked links.

    Moderators get what NOTIFIER_MODERATOR_MAIL allows (``minimal``: no name, no
    address, no text; ``excerpt``: a name and a short excerpt); what is left out
    is None here, so no template, shipped or overridden, can show it.  The
    InfoLine always gets the whole question.  Links are kept only when they
    point at ``site_url``.
    """
    if notification.template == COMMENTER_ACK:
        # A stranger's address may be behind it: a cleaned first name and nothing else.
        return ack_context(notification.comment.author_name, site_name=site_name)
    comment = notification.comment
    to_moderators = notification.template not in (INFOLINE_FORWARD, COMMENTER_ACK)
    mode: ModeratorMail = moderator_mail if to_moderators else "full"
    limit = {
        "full": MODERATOR_BODY_LIMIT if to_moderators else INFOLINE_BODY_LIMIT,
        "excerpt": EXCERPT_LIMIT,
        "minimal": 0,
    }[mode]
    body = clean_body(comment.body)
    excerpt, truncated = _excerpt(body, limit)
    name = clean_line(comment.author_name, NAME_LIMIT) or "(no name)"
    email = clean_line(comment.author_email or "", NAME_LIMIT)
    title = clean_line(comment.post.title, TITLE_LIMIT) or "(untitled)"
    minimal = mode == "minimal"
    return {
        "site_name": site_name,
        "privacy": mode,
        "comment": {
            "id": comment.id,
            "author_name": None if minimal else name,
            "author_email": email if mode == "full" else None,
            "reply_to": str(notification.reply_to.addr_spec) if notification.reply_to else None,
            "status": comment.status,
            "created_at": comment.created_at,
            "body": None if minimal else excerpt,
            "body_truncated": truncated and not minimal,
            "excerpt_only": mode == "excerpt",
            "body_length": len(body),
            "parent_id": comment.parent_id,
            "subject_name": None
            if minimal
            else shorten(strip_markup(name) or "(no name)", SUBJECT_NAME_LIMIT),
            "subject_excerpt": None if minimal else snippet(body, SUBJECT_EXCERPT_LIMIT),
        },
        "post": {
            "id": comment.post.id,
            "title": title,
            "subject_title": shorten(strip_markup(title) or "(untitled)", SUBJECT_TITLE_LIMIT),
            "url": site_link(comment.post.url, site_url),
        },
        "links": {
            name: site_link(comment.moderation_links.get(name), site_url)
            for name in MODERATION_LINKS
        },
        "flag": _flag_context(notification.flag, mode),
        "pending_count": pending_count,
        "forwarded": notification.forwarded,
        "forwarded_by": notification.forwarded_by,
        "triage": (
            {
                "score": notification.triage.score,
                # The reasons quote the comment's words.
                "reasons": [] if minimal else list(notification.triage.reasons),
            }
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


def _flag_context(flag: Flag | None, mode: ModeratorMail) -> dict[str, Any] | None:
    if flag is None:
        return None
    note = clean_body(flag.note or "").strip()
    if mode == "excerpt":
        note = _excerpt(note, EXCERPT_LIMIT)[0]
    return {
        "id": flag.id,
        "reason": flag.reason,
        "reason_label": FLAG_REASON_LABELS.get(flag.reason, clean_line(flag.reason, 40)),
        # A reader's note may repeat the comment, and who flagged may be a name.
        "note": None if mode == "minimal" else note or None,
        "flagged_by": None
        if mode == "minimal"
        else clean_line(flag.flagged_by or "", NAME_LIMIT) or None,
        "created_at": flag.created_at,
    }


def quote(text: str, width: int = TEXT_WIDTH) -> str:
    """Every line prefixed with "> " (wrapped first), as mail clients quote.

    Lines are wrapped, long words included, so a terminal never wraps a quoted
    line itself and shows a continuation that looks like one of ours.
    """
    lines: list[str] = []
    for line in text.split("\n"):
        wrapped = textwrap.wrap(
            line, width - 2, break_long_words=True, break_on_hyphens=False, drop_whitespace=True
        )
        if wrapped:
            lines.extend(f"> {part}" for part in wrapped)
        else:
            lines.append(">")
    return "\n".join(lines)


def wrap(text: str, width: int = TEXT_WIDTH) -> str:
    """One of our sentences (with its data) wrapped for a terminal; URLs are never cut."""
    return "\n".join(
        textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
        for line in str(text).split("\n")
    )


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


def _tidy(text: str) -> str:
    """At most one blank line in a row, none at the start: templates need not count newlines."""
    return _BLANK_LINES.sub("\n\n", text).strip("\n") + "\n"


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
        self._env.filters["quote"] = quote
        self._env.filters["wrap"] = wrap

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
        return Rendered(subject=parts[0].strip(), text=_tidy(parts[1]), html=parts[2])

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
