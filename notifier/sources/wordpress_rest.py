"""Comments and flags read from a WordPress site's REST API.

``WordPressRestSource`` implements ``CommentSource`` for a site whose database
notifier cannot reach.  It signs in with an Application Password (basic auth)
as a user who may moderate comments, and reads ``/wp-json/wp/v2/comments``
with ``context=edit`` and ``status=any`` (pending, approved, spam and trash).

The REST API has no "id greater than" filter, so comments are read by asking
for explicit windows of ids (``include=``) in increasing order up to the
highest id: deterministic, whatever is posted or deleted meanwhile, and as
cheap as the number of new ids.

Flags come from comment meta, and over REST that needs the site to run
``scripts/notifier-wp-meta.php`` (a must-use plugin).  WordPress's REST API
never shows a meta row's ``meta_id``, and without it flags have no id that
grows with time: a synthetic one (a counter, the comment id) would either
repeat after a restart or sort a new flag on an old comment below the
worker's cursor, and the flag would be lost.  The plugin's read-only route
``/notifier/v1/comment-meta`` lists meta rows with their real ``meta_id``, so
flag ids here are the very ids the database source uses, with the same rules
(``notifier.sources.wordpress_mapping.flag_reason``) and the same limitations.

One difference: ``head()``'s flag id is the highest ``meta_id`` among rows of
the flag keys, whether or not that row is a flag event yet (finding the last
event would mean reading every row); it is a sound starting cursor.
Post titles are the rendered titles (HTML entities decoded), which can differ
from the raw title the database source reads (WordPress curls quotes).
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from notifier.errors import SourceError
from notifier.masking import mask_url, without_credentials
from notifier.models import Comment, Flag, IdRange, Post
from notifier.sources.limits import (
    DEFAULT_BODY_CHARS,
    EMAIL_CHARS,
    NAME_CHARS,
    TITLE_CHARS,
    cut_text,
)
from notifier.sources.wordpress_http import ResponseTooLarge, RestClient
from notifier.sources.wordpress_mapping import (
    flag_note,
    flag_reason,
    map_status,
    moderation_links,
    post_link,
    utc,
)

# The REST API caps per_page at 100.
_PAGE = 100
# Id ranges at least this long are searched, not asked for id by id.
_SEARCH_SPAN = 1000
# What is read of a comment too large to read whole.
_SMALL_FIELDS = "id,post,parent,author_name,author_email,status,date,date_gmt"
_TOO_LARGE = (
    "(notifier could not read this comment's text: the site's answer was larger than "
    "{} bytes, NOTIFIER_REST_MAX_RESPONSE_BYTES. Read it on the site.)"
)


def _windows(after: int, head: int, gaps: Sequence[IdRange]) -> Iterator[list[int]]:
    """Candidate comment ids, in increasing order, in lists of at most ``_PAGE``."""
    ranges = sorted([(low, high) for low, high in gaps if low <= high] + [(after + 1, head)])
    window: list[int] = []
    last = 0
    for low, high in ranges:
        for comment_id in range(max(low, last + 1), high + 1):
            window.append(comment_id)
            last = comment_id
            if len(window) == _PAGE:
                yield window
                window = []
    if window:
        yield window


class WordPressRestSource:
    """Reads comments and flags through a WordPress site's REST API (read-only)."""

    def __init__(
        self,
        site_url: str,
        *,
        username: str,
        app_password: str,
        comment_types: Sequence[str] = ("comment",),
        flag_meta_keys: Sequence[str] = (),
        flag_threshold: int = 1,
        medical_meta_key: str = "notifier_medical_question",
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_body_chars: int = DEFAULT_BODY_CHARS,
        max_response_bytes: int = 16_000_000,
    ) -> None:
        self._body_chars = max_body_chars
        self._max_bytes = max_response_bytes
        # Credentials written into the URL are never used, linked or shown: the
        # application password comes from its own setting.
        self._site_url = without_credentials(site_url).rstrip("/")
        self._shown = mask_url(self._site_url)
        self._username = username
        self._types = list(dict.fromkeys(comment_types))
        self._flag_keys = [key for key in dict.fromkeys(flag_meta_keys) if key != medical_meta_key]
        self._threshold = flag_threshold
        self._medical_key = medical_meta_key
        self._http = RestClient(
            self._site_url,
            username=username,
            app_password=app_password,
            timeout=timeout,
            transport=transport,
            max_bytes=max_response_bytes,
        )

    async def _comments_by_id(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The comments (of the configured types, any status) among ``ids``, by id."""
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), _PAGE):
            for comment_type in self._types:
                await self._read_ids(list(ids[start : start + _PAGE]), comment_type, found)
        return [found[key] for key in sorted(found)]

    async def _read_ids(
        self, ids: list[int], comment_type: str, found: dict[int, dict[str, Any]]
    ) -> None:
        """Read ``ids`` into ``found``; a page over the size cap is read in halves, and a
        single comment over it without its text (so it is still seen, never lost)."""
        params = {
            "context": "edit",
            "status": "any",
            "type": comment_type,
            "include": ",".join(map(str, ids)),
            "per_page": _PAGE,
            "orderby": "id",
            "order": "asc",
            # The post's title comes embedded; ``up`` is the comment's post.
            "_embed": "up",
        }
        try:
            items = await self._http.json("/wp/v2/comments", params)
        except ResponseTooLarge:
            if len(ids) > 1:
                half = len(ids) // 2
                await self._read_ids(ids[:half], comment_type, found)
                await self._read_ids(ids[half:], comment_type, found)
                return
            small = {k: v for k, v in params.items() if k != "_embed"}
            items = await self._http.json("/wp/v2/comments", {**small, "_fields": _SMALL_FIELDS})
            for item in items:
                item["content"] = {"raw": _TOO_LARGE.format(self._max_bytes)}
        found.update({int(item["id"]): item for item in items})

    def _comment(self, item: dict[str, Any]) -> Comment:
        comment_id, post_id = int(item["id"]), int(item.get("post") or 0)
        title = ""
        for embedded in item.get("_embedded", {}).get("up", []):
            if isinstance(embedded, dict) and "title" in embedded:
                title = html.unescape(str(embedded["title"].get("rendered", ""))[:TITLE_CHARS])
        content = item.get("content") or {}
        return Comment(
            id=comment_id,
            post=Post(id=post_id, title=title, url=post_link(self._site_url, post_id)),
            parent_id=int(item.get("parent") or 0) or None,
            author_name=cut_text(str(item.get("author_name") or ""), NAME_CHARS),
            author_email=cut_text(str(item.get("author_email") or ""), EMAIL_CHARS) or None,
            # context=edit gives the raw text, as stored; rendered is HTML.
            body=cut_text(str(content.get("raw", content.get("rendered", ""))), self._body_chars),
            status=map_status(str(item.get("status", ""))),
            created_at=utc(item.get("date_gmt"), item.get("date")),
            moderation_links=moderation_links(self._site_url, comment_id),
        )

    async def _meta_page(self, after: int, per_page: int) -> dict[str, Any]:
        keys = ",".join([*self._flag_keys, self._medical_key])
        page = await self._http.json(
            "/notifier/v1/comment-meta", {"keys": keys, "after": after, "per_page": per_page}
        )
        if not isinstance(page, dict):
            raise SourceError("notifier's comment-meta route sent an unexpected answer")
        return page

    # --- CommentSource ------------------------------------------------------------------

    async def _head_comment_id(self) -> int:
        head = 0
        for comment_type in self._types:
            items = await self._http.json(
                "/wp/v2/comments",
                {
                    "context": "edit",
                    "status": "any",
                    "type": comment_type,
                    "orderby": "id",
                    "order": "desc",
                    "per_page": 1,
                    "_fields": "id",
                },
            )
            head = max([head, *(int(item["id"]) for item in items)])
        return head

    async def head(self) -> tuple[int, int]:
        page = await self._meta_page(after=0, per_page=1)
        return await self._head_comment_id(), int(page.get("max_meta_id", 0))

    async def comments(self, after: int, gaps: Sequence[IdRange], limit: int) -> list[Comment]:
        """Short ranges of ids are asked for by ``include=``; a long one (ids jump by
        thousands on some sites) is searched instead, so a gap costs a few requests
        and can never stall the cursor."""
        head = await self._head_comment_id()
        ranges = [(low, high) for low, high in gaps if low <= high]
        if head > after:
            ranges.append((after + 1, head))
        short = [r for r in ranges if r[1] - r[0] < _SEARCH_SPAN]
        found: dict[int, Comment] = {}
        for window in _windows(0, 0, short):
            found.update((c.id, c) for c in map(self._comment, await self._comments_by_id(window)))
            if len(found) >= limit:
                break
        for low, high in sorted(r for r in ranges if r[1] - r[0] >= _SEARCH_SPAN):
            for item in await self._comments_by_id(await self._ids_between(low, high, limit)):
                found[int(item["id"])] = self._comment(item)
        return [found[key] for key in sorted(found)][:limit]

    async def _ids_between(self, low: int, high: int, limit: int) -> list[int]:
        """Up to ``limit`` comment ids in ``low..high``, smallest first, found by a binary
        search over the ids in order (``offset``): about log2(comments) small requests."""
        ids: list[int] = []
        for comment_type in self._types:
            base = {
                "context": "edit",
                "status": "any",
                "type": comment_type,
                "orderby": "id",
                "order": "asc",
                "_fields": "id",
            }

            async def id_at(offset: int, base: dict[str, Any] = base) -> int | None:
                items = await self._http.json(
                    "/wp/v2/comments", {**base, "per_page": 1, "offset": offset}
                )
                return int(items[0]["id"]) if items else None

            first = await self._http.get("/wp/v2/comments", {**base, "per_page": 1})
            lo, hi = 0, int(first.headers.get("x-wp-total", "0"))
            while lo < hi:
                mid = (lo + hi) // 2
                found = await id_at(mid)
                if found is not None and found < low:
                    lo = mid + 1
                else:
                    hi = mid
            while len(ids) < limit:
                page = await self._http.json(
                    "/wp/v2/comments", {**base, "per_page": _PAGE, "offset": lo}
                )
                ids.extend(i for i in (int(item["id"]) for item in page) if low <= i <= high)
                if len(page) < _PAGE or int(page[-1]["id"]) > high:
                    break
                lo += _PAGE
        return sorted(set(ids))[:limit]

    async def _flag_events(
        self, after: int, gaps: Sequence[IdRange], want: int
    ) -> dict[int, tuple[int, str, str, str]]:
        """The first ``want`` (or more) flag events above ``after`` or in ``gaps``, by meta_id.

        Meta rows are read in meta_id order and filtered here, so the loop
        goes on until it has ``want`` events: a limit must count flags, not rows.
        One scan from the lowest gap serves every gap: the worker keeps up to
        hundreds of them (every meta row that is not a flag leaves one), and a
        request per gap per poll would be far dearer than reading recent rows.
        """

        def wanted(meta_id: int) -> bool:
            return meta_id > after or any(low <= meta_id <= high for low, high in gaps)

        start = min([after, *(low - 1 for low, _ in gaps)])
        events: dict[int, tuple[int, str, str, str]] = {}
        per_page = min(max(want, _PAGE), 1000)  # the plugin's cap
        cursor = start
        while len(events) < want:
            try:
                rows = (await self._meta_page(cursor, per_page)).get("rows", [])
            except ResponseTooLarge:
                if per_page == 1:
                    raise
                per_page //= 2  # a huge meta value: fewer rows a page
                continue
            for row in rows:
                meta_id = cursor = int(row["meta_id"])
                if not wanted(meta_id):
                    continue
                key, value = str(row["key"]), _text_or_none(row.get("value"))
                reason = flag_reason(
                    key,
                    value,
                    flag_keys=self._flag_keys,
                    medical_key=self._medical_key,
                    threshold=self._threshold,
                    prior_max=row.get("prior_max"),
                )
                if reason is not None:
                    events[meta_id] = (int(row["comment_id"]), reason, key, value or "")
            if len(rows) < per_page:
                break
        return events

    async def flags(self, after: int, gaps: Sequence[IdRange], limit: int) -> list[Flag]:
        events = await self._flag_events(after, gaps, limit)
        chosen = sorted(events)[:limit]
        by_id = {
            int(item["id"]): self._comment(item)
            for item in await self._comments_by_id(sorted({events[m][0] for m in chosen}))
        }
        read_at = datetime.now(UTC)
        flags = [
            Flag(
                id=meta_id,
                comment=by_id[events[meta_id][0]],
                reason=events[meta_id][1],
                note=flag_note(events[meta_id][2], events[meta_id][3]),
                flagged_by=None,
                created_at=read_at,
            )
            # A flag on a deleted comment, or one of another type, is dropped as in SQL.
            for meta_id in chosen
            if events[meta_id][0] in by_id
        ]
        return flags

    async def pending_count(self) -> int:
        total = 0
        for comment_type in self._types:
            response = await self._http.get(
                "/wp/v2/comments",
                {"context": "edit", "status": "hold", "type": comment_type, "per_page": 1},
            )
            total += int(response.headers.get("x-wp-total", "0"))
        return total

    async def statuses(self, ids: Sequence[int]) -> dict[int, str]:
        """The current status of each comment in ``ids`` that still exists."""
        items = await self._comments_by_id(sorted(set(ids)))
        return {int(item["id"]): map_status(str(item.get("status", ""))) for item in items}

    async def check(self) -> str:
        index = await self._http.json("/")
        namespaces = index.get("namespaces", []) if isinstance(index, dict) else []
        if "wp/v2" not in namespaces:
            raise SourceError(f"{self._shown}/wp-json/ has no wp/v2 API")
        await self.head()  # signs in, needs moderator rights and the meta plugin
        return f"WordPress REST API at {self._shown} as {self._username!r}"

    async def aclose(self) -> None:
        await self._http.aclose()


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
