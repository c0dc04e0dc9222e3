"""The headers that make moderator mail thread per post and read as machine mail.

Threads: every moderator email about a post names the same root id,
``<post-ID.SITE@OUR-DOMAIN>``, in ``References`` and ``In-Reply-To`` (a reply
comment also names its parent comment, ``<comment-ID.SITE@OUR-DOMAIN>``), so
mail clients that thread by references (Thunderbird, Apple Mail, mutt) put all
of a post's mail in one thread.  No message carries a root id as its own
``Message-ID``: those stay random, because a provider that has seen a
``Message-ID`` once may drop a second message with it (a state store rebuilt
from scratch would otherwise resend old ids).  ``SITE`` is a short hash of the
site (NOTIFIER_SITE_URL, else NOTIFIER_SITE_NAME), so two blogs mailing from
one domain never share a thread.

Machine mail: ``Auto-Submitted: auto-generated`` (RFC 3834) and
``X-Auto-Response-Suppress: All`` (Exchange) keep out-of-office replies away,
and ``List-Id: SITE NAME moderation <moderation.SITE-HOST>`` (RFC 2919) lets a
moderator filter it.  InfoLine forwards carry none of this: help desks suspend
auto-submitted mail and merge tickets that reference each other.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notifier.errors import MessageBuildError
from notifier.mail.clean import clean_line
from notifier.mail.links import site_host

if TYPE_CHECKING:
    from notifier.settings import Settings

# What compose adds to moderator mail, and its post-build check accepts.
MACHINE_HEADER_NAMES = frozenset({"x-auto-response-suppress", "list-id"})
MODERATOR_HEADER_NAMES = MACHINE_HEADER_NAMES | {"in-reply-to", "references"}
# RFC 2919 wants the list id to be a dot-atom under a domain we control.
_DOT_ATOM = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


@dataclass(frozen=True, slots=True)
class ModeratorHeaders:
    """What compose adds to a moderator email on top of the usual headers."""

    list_id: str
    # Empty for mail about many posts at once (digests, reminders): no thread.
    references: tuple[str, ...] = ()

    @property
    def in_reply_to(self) -> str:
        return self.references[-1]

    @property
    def header_names(self) -> frozenset[str]:
        """The headers compose adds for these, as its post-build check expects them."""
        return MODERATOR_HEADER_NAMES if self.references else MACHINE_HEADER_NAMES


@dataclass(frozen=True, slots=True)
class Threading:
    """Builds ModeratorHeaders for one site and one sending domain."""

    site_name: str
    site_url: str | None
    domain: str

    @property
    def _token(self) -> str:
        site = self.site_url.strip().rstrip("/").lower() if self.site_url else self.site_name
        return hashlib.sha256(site.encode("utf-8")).hexdigest()[:12]

    def post_root(self, post_id: int) -> str:
        """The id every moderator email about post ``post_id`` references."""
        return f"<post-{int(post_id)}.{self._token}@{self.domain}>"

    def comment_ref(self, comment_id: int) -> str:
        return f"<comment-{int(comment_id)}.{self._token}@{self.domain}>"

    @property
    def list_id(self) -> str:
        """``Name moderation <moderation.host>``: the host of the site, else our domain."""
        host = site_host(self.site_url) or self.domain
        label = f"moderation.{host.lower()}"
        if not _DOT_ATOM.match(label) or len(label) > 255:
            label = f"moderation.{self.domain.lower()}"
        phrase = re.sub(r'[<>"\\()]', "", clean_line(self.site_name, 60)).strip()
        return f"{phrase} moderation <{label}>" if phrase else f"<{label}>"

    @classmethod
    def of(cls, settings: Settings) -> Threading:
        """The threading of the configured site, mailing from our sender's domain."""
        return cls(
            site_name=settings.site_name,
            site_url=settings.link_site_url,
            domain=(settings.mail_from.domain or "notifier.invalid").lower(),
        )

    def machine(self) -> ModeratorHeaders:
        """Moderator mail about no single post (a digest, a reminder): no thread."""
        return ModeratorHeaders(list_id=self.list_id)

    def for_post(self, post_id: int, parent_id: int | None = None) -> ModeratorHeaders:
        refs = [self.post_root(post_id)]
        if parent_id is not None:
            refs.append(self.comment_ref(parent_id))
        return ModeratorHeaders(list_id=self.list_id, references=tuple(refs))


def verify_thread(data: bytes, headers: ModeratorHeaders) -> None:
    """Check the built message's References are exactly the thread's, as a reader unfolds them."""
    head = data.partition(b"\r\n\r\n")[0]
    unfolded = head.replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ").split(b"\r\n")
    found = [line[11:] for line in unfolded if line[:11].lower() == b"references:"]
    wanted = [list(headers.references)] if headers.references else []
    if [f.decode("ascii", "replace").split() for f in found] != wanted:
        raise MessageBuildError("the built email's References are not the thread's: not sent")
