"""Notices notifier writes about itself (no template: nothing in them comes from a comment)."""

from __future__ import annotations

from datetime import datetime
from html import escape

from notifier.mail.render import Rendered

INFOLINE_CAPPED = "infoline_capped"


def infoline_capped(site_name: str, cap: int, hour: datetime, until: datetime) -> Rendered:
    """Tell the moderators that InfoLine forwards are waiting for the hourly cap."""
    subject = f"[{site_name}] InfoLine forwards are waiting: more than {cap} this hour"
    text = (
        f"More than {cap} comments were to be forwarded to the InfoLine in the hour "
        f"from {hour:%Y-%m-%d %H:%M} UTC (NOTIFIER_INFOLINE_MAX_PER_HOUR).\n\n"
        "The others wait in the outbox and go out in order, at most "
        f"{cap} an hour; as things stand the last goes at {until:%Y-%m-%d %H:%M} UTC.\n"
        "Nothing is dropped.\n\n"
        "A burst like this may be a flood of questions or an attack: please look at "
        "the recent comments. `notifier status` shows what is waiting.\n\n"
        "This notice is sent once per capped hour.\n"
    )
    html = (
        "<html><body>"
        + "".join(f"<p>{escape(paragraph)}</p>" for paragraph in text.strip().split("\n\n"))
        + "</body></html>\n"
    )
    return Rendered(subject=subject, text=text, html=html)
