"""`notifier triage learn`: a site model from the moderators' own `medical_question` flags.

Reads the configured source's whole history through the same protocol the worker
polls with (native store, WordPress database or REST API), so nothing leaves the
machine. Labels: a comment a moderator flagged `medical_question` is a question; an
approved comment without that flag is (mostly) not. A fixed quarter of them, chosen
by a hash of the comment id, is held out; the site model (the shipped model's score
plus the site's own n-grams, `notifier.triage.train.fit_site`) is trained on the rest,
both models are measured on the held-out part, and the site model is saved in the
state store, where the worker picks it up at its next start.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from notifier.errors import NotifierError
from notifier.models import Comment, CommentStatus, FlagReason
from notifier.settings import Settings
from notifier.sources import CommentSource, build_source
from notifier.state import Outbox
from notifier.triage.evaluate import Metrics
from notifier.triage.model import Model, ModelError, dump, loads
from notifier.triage.scorer import Scorer, shipped_model

__all__ = [
    "MIN_LABELS",
    "History",
    "LearnError",
    "learn",
    "load_scorer",
    "read_history",
    "site_scorer",
]

log = logging.getLogger(__name__)

MIN_LABELS = 20  # of each kind: fewer and the held-out figures mean nothing
_BATCH = 500
_HELD_OUT = 25  # percent


class LearnError(NotifierError):
    """`triage learn` cannot train a site model, with the reason."""


@dataclass(frozen=True, slots=True)
class History:
    """Labelled comments read from the source."""

    bodies: list[str]
    labels: list[bool]
    ids: list[int]

    @property
    def questions(self) -> int:
        return sum(self.labels)


async def read_history(source: CommentSource) -> History:
    """Every comment and flag in the store; labels from `medical_question` flags."""
    comments: dict[int, Comment] = {}
    after = 0
    while batch := await source.comments(after, [], _BATCH):
        comments.update((c.id, c) for c in batch)
        after = batch[-1].id
    flagged: set[int] = set()
    after = 0
    while flags := await source.flags(after, [], _BATCH):
        flagged.update(f.comment.id for f in flags if f.reason == FlagReason.MEDICAL_QUESTION)
        after = flags[-1].id
    bodies, labels, ids = [], [], []
    for comment_id in sorted(comments):
        comment = comments[comment_id]
        if comment_id in flagged and not comment.is_junk:
            labels.append(True)
        elif comment.status == CommentStatus.APPROVED:
            labels.append(False)
        else:
            continue  # pending, spam, trash: nobody has said what it is
        bodies.append(comment.body)
        ids.append(comment_id)
    return History(bodies, labels, ids)


def _held_out(comment_id: int) -> bool:
    digest = hashlib.sha256(f"comment-{comment_id}".encode()).hexdigest()
    return int(digest[:8], 16) % 100 < _HELD_OUT


def _measure(scorer: Scorer, bodies: Sequence[str], labels: Sequence[bool], t: float) -> Metrics:
    m = Metrics()
    for body, label in zip(bodies, labels, strict=True):
        m = m.add(label, scorer(body, threshold=t).medical_question)
    return m


def _figures(m: Metrics) -> str:
    p = f"{m.precision:.2f}" if m.tp + m.fp else "-"
    r = f"{m.recall:.2f}" if m.tp + m.fn else "-"
    return f"precision {p}, recall {r} (tp {m.tp}, fp {m.fp}, fn {m.fn}, tn {m.tn})"


async def learn(
    settings: Settings, out: TextIO, *, now: datetime, min_labels: int = MIN_LABELS
) -> int:
    """Train, report and save a site model; LearnError says why it could not."""
    from notifier.triage.train import TrainingError, fit_site, require_sklearn

    try:
        require_sklearn()
    except TrainingError as exc:
        raise LearnError(str(exc)) from None
    source = build_source(settings)
    try:
        history = await read_history(source)
    finally:
        await source.aclose()
    questions, others = history.questions, len(history.labels) - history.questions
    out.write(
        f"read {len(history.labels)} labelled comments: {questions} flagged medical_question, "
        f"{others} approved without the flag\n"
    )
    if questions < min_labels or others < min_labels:
        raise LearnError(
            f"too few labels to learn from: {questions} flagged medical questions and "
            f"{others} approved comments without the flag; at least {min_labels} of each "
            "are needed. Nothing was saved; the worker keeps the shipped model."
        )
    train = [i for i, cid in enumerate(history.ids) if not _held_out(cid)]
    test = [i for i, cid in enumerate(history.ids) if _held_out(cid)]
    train_labels = [history.labels[i] for i in train]
    if all(train_labels) or not any(train_labels):
        raise LearnError("the training part has only one kind of label; nothing was saved")
    shipped = shipped_model()
    try:
        site = fit_site(
            shipped,
            [history.bodies[i] for i in train],
            train_labels,
            meta={"trained_at": now.isoformat(), "comments": len(train)},
        )
    except TrainingError as exc:
        raise LearnError(str(exc)) from None

    t = settings.triage_threshold
    test_bodies = [history.bodies[i] for i in test]
    test_labels = [history.labels[i] for i in test]
    before = _measure(Scorer(shipped=shipped), test_bodies, test_labels, t)
    after = _measure(Scorer(site=site, shipped=shipped), test_bodies, test_labels, t)
    out.write(
        f"trained on {len(train)}, measured on {len(test)} held out "
        f"({sum(test_labels)} questions), threshold {t:g}:\n"
        f"  shipped model: {_figures(before)}\n"
        f"  site model:    {_figures(after)}\n"
    )
    summary = (
        f"trained {now:%Y-%m-%d %H:%M} UTC on {len(train)} comments; held out {len(test)}: "
        f"shipped {_figures(before)}; site {_figures(after)}"
    )
    outbox = Outbox(settings.state_url)
    try:
        await outbox.create()
        model_id = await outbox.save_triage_model(dump(site), summary, now)
    finally:
        await outbox.aclose()
    out.write(f"saved as site model {model_id}; the worker uses it from its next start\n")
    log.info(
        "site triage model %d saved: %s",
        model_id,
        summary,
        extra={"action": "triage_learned", "model": model_id},
    )
    return 0


async def load_scorer(outbox: Outbox) -> Scorer:
    """The worker's scorer: the newest site model in the state store, else the shipped one."""
    saved = await outbox.latest_triage_model()
    site: Model | None = None
    if saved is not None:
        try:
            site = loads(saved.model, f"site model {saved.id}")
        except ModelError as exc:
            log.error(
                "triage: %s; using the shipped model",
                exc,
                extra={"action": "triage_model", "model": "shipped"},
            )
    if site is not None and saved is not None:
        log.info(
            "triage uses site model %d (%s)",
            saved.id,
            saved.summary,
            extra={"action": "triage_model", "model": "site", "id": saved.id},
        )
    else:
        log.info(
            "triage uses the shipped model",
            extra={"action": "triage_model", "model": "shipped"},
        )
    return Scorer(site=site)


def state_store_exists(settings: Settings) -> bool:
    """False for a SQLite state store whose file is not there (a server is assumed to be)."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.state_url)
    return url.get_backend_name() != "sqlite" or bool(url.database and Path(url.database).exists())


async def site_scorer(settings: Settings) -> Scorer:
    """For `notifier triage`: the worker's scorer (call only if `state_store_exists`)."""
    outbox = Outbox(settings.state_url)
    try:
        await outbox.create()
        return await load_scorer(outbox)
    except NotifierError as exc:
        log.warning(
            "triage: cannot read a site model (%s); using the shipped model",
            exc,
            extra={"action": "triage_model", "model": "shipped"},
        )
        return Scorer()
    finally:
        await outbox.aclose()
