"""``notifier retry``: requeue dead letters, to the recipients the settings name *now*.

A dead letter to a moderator or to the InfoLine was built for the address of
its day.  The usual fix for "550 no such mailbox" is to correct that address
in the settings, so a retry re-resolves the recipient: an InfoLine forward goes
to the current NOTIFIER_INFOLINE_ADDRESS; a moderator's copy whose address is
no longer a moderator goes to the current moderators who have no copy of that
event yet.  The message keeps its bytes and Message-ID except for the To line.
Every id that cannot be retried is explained.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses
from typing import TextIO

from notifier.mail.compose import _POLICY
from notifier.mail.route import FLAGGED_COMMENT, INFOLINE_FORWARD, NEW_COMMENT
from notifier.settings import Settings
from notifier.state.retarget import RetargetingOutbox, Row
from notifier.state.schema import DEAD

MODERATOR_TEMPLATES = (NEW_COMMENT, FLAGGED_COMMENT)


def readdress(data: bytes, recipient: Address) -> bytes:
    """The same message with its To line naming ``recipient`` instead."""
    header = EmailMessage(policy=_POLICY)
    header["To"] = recipient
    to_line = header.as_bytes(policy=_POLICY).partition(b"\r\n\r\n")[0]
    head, separator, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    kept: list[bytes] = []
    skipping = False
    for line in lines:
        if line[:3].lower() == b"to:":
            kept.append(to_line)
            skipping = True
        elif skipping and line[:1] in (b" ", b"\t"):
            continue  # the old To's folded continuation
        else:
            skipping = False
            kept.append(line)
    rebuilt = b"\r\n".join(kept) + separator + body
    check = b"".join(
        line
        for line in rebuilt.partition(b"\r\n\r\n")[0].split(b"\r\n")
        if line[:3].lower() == b"to:"
    )
    addresses = [a for _, a in getaddresses([check[3:].decode("ascii", "replace")])]
    if addresses != [recipient.addr_spec]:
        raise ValueError("could not readdress the message")
    return rebuilt


@dataclass
class Outcome:
    requeued: int = 0
    problems: int = 0


def _targets(settings: Settings, template: str, recipient: str) -> list[Address] | None:
    """Who should get this message now; None when its recipient is not re-resolved."""
    if template == INFOLINE_FORWARD:
        return [settings.infoline_address] if settings.infoline_address else []
    if template in MODERATOR_TEMPLATES:
        moderators = list(settings.moderators)
        if any(m.addr_spec.lower() == recipient.lower() for m in moderators):
            return None
        return moderators
    return None


async def retry(settings: Settings, ids: list[int] | None, out: TextIO) -> int:
    """Requeue ``ids`` (every dead letter when None); 1 if any could not be retried."""
    now = datetime.now(UTC)
    outbox = RetargetingOutbox(settings.state_url)
    result = Outcome()
    try:
        wanted = ids if ids is not None else await outbox.dead_ids()
        rows = {row.id: row for row in await outbox.entries(wanted)}
        for row_id in wanted:
            await _retry_one(outbox, settings, row_id, rows.get(row_id), now, out, result)
    finally:
        await outbox.aclose()
    out.write(f"requeued {result.requeued} dead letter(s)\n")
    return 1 if result.problems else 0


async def _retry_one(
    outbox: RetargetingOutbox,
    settings: Settings,
    row_id: int,
    row: Row | None,
    now: datetime,
    out: TextIO,
    result: Outcome,
) -> None:
    def refuse(reason: str) -> None:
        result.problems += 1
        out.write(f"#{row_id}: {reason}\n")

    if row is None:
        return refuse("no such message in the outbox (see `notifier status` for ids)")
    if row.state != DEAD:
        what = "already sent" if row.state == "sent" else "still waiting to be sent"
        return refuse(f"not a dead letter: {what}; nothing to retry")
    if row.message is None:
        return refuse(
            f"never built ({row.last_error}); it cannot be sent. Fix the cause "
            "(a template, say): new notifications will be built with the fix"
        )
    targets = _targets(settings, row.template, row.recipient)
    if targets is None:
        await outbox.requeue([row_id])
        result.requeued += 1
        return None
    if not targets:
        return refuse(
            "NOTIFIER_INFOLINE_ADDRESS is not set now: an InfoLine forward has nowhere to go"
        )
    fresh = [t for t in targets if not await outbox.has_copy(row.event_key, t.addr_spec)]
    if not fresh:
        return refuse(
            f"{row.recipient} is no longer configured and every current recipient "
            "already has this notification"
        )
    first, *others = fresh
    await outbox.requeue_to(row_id, first.addr_spec, readdress(row.message, first), now)
    result.requeued += 1
    out.write(f"#{row_id}: re-addressed from {row.recipient} to {first.addr_spec}\n")
    for extra in others:
        await outbox.add_copy(row_id, extra.addr_spec, readdress(row.message, extra), now)
        out.write(f"#{row_id}: a copy also goes to {extra.addr_spec}\n")
    return None
