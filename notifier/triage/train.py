"""Train triage models with scikit-learn: the shipped one, and (for `triage learn`) a site one.

scikit-learn and numpy are imported inside the functions that need them, so nothing
that scores comments ever loads them (install them with ``pip install 'notifier[learn]'``).
Training is deterministic: the same rows in the same order give the same weights, and
`notifier.triage.model.dump` the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from notifier.triage.features import Features, extract
from notifier.triage.model import Model, held_within, probability

__all__ = ["LEARN_EXTRA", "TrainingError", "fit", "fit_site", "require_sklearn"]

LEARN_EXTRA = "pip install 'notifier[learn]'"

# Chosen on the development split (see README, "Triage"): smaller C = stronger pull
# of every weight towards 0.
DEFAULT_C = 16.0
MIN_DOCS = 2  # an n-gram must occur in at least this many training comments
# A site model reads the shipped logit held within ±3 (probability 0.05–0.95); see fit_site.
SITE_BASE_CAP = 3.0


class TrainingError(RuntimeError):
    """Training could not be done, with the reason."""


def require_sklearn() -> None:
    """Raise TrainingError with the install command when scikit-learn is missing."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise TrainingError(f"training needs scikit-learn: {LEARN_EXTRA}") from None


@dataclass(frozen=True, slots=True)
class _Matrix:
    rows: Any  # scipy.sparse.csr_matrix
    names: list[str]


def _vectorise(
    features: Sequence[dict[str, float]], vocabulary: dict[str, int] | None = None
) -> _Matrix:
    from scipy.sparse import csr_matrix

    if vocabulary is None:
        docs = Counter(name for f in features for name in f)
        names = sorted(n for n, c in docs.items() if c >= MIN_DOCS or n.startswith("s:"))
        vocabulary = {n: i for i, n in enumerate(names)}
    else:
        names = sorted(vocabulary, key=vocabulary.__getitem__)
    data: list[float] = []
    cols: list[int] = []
    indptr = [0]
    for f in features:
        for name in sorted(f):
            col = vocabulary.get(name)
            if col is not None:
                cols.append(col)
                data.append(f[name])
        indptr.append(len(cols))
    rows = csr_matrix((data, cols, indptr), shape=(len(features), len(names)))
    return _Matrix(rows, names)


def _logistic(
    x: Any, y: Sequence[bool], c: float, sample_weight: Sequence[float] | None = None
) -> tuple[float, Any]:
    from sklearn.linear_model import LogisticRegression

    labels = [1 if v else 0 for v in y]
    if len(set(labels)) < 2:
        raise TrainingError("training needs both questions and other comments")
    lr = LogisticRegression(C=c, class_weight="balanced", solver="lbfgs", max_iter=5000)
    lr.fit(x, labels, sample_weight=None if sample_weight is None else list(sample_weight))
    return float(lr.intercept_[0]), lr.coef_[0]


def select(features: dict[str, float], keep: tuple[str, ...] | None) -> dict[str, float]:
    """Only the features whose names start with one of `keep` (all when None)."""
    if keep is None:
        return features
    return {k: v for k, v in features.items() if k.startswith(keep)}


def fit(
    bodies: Iterable[str],
    labels: Sequence[bool],
    *,
    c: float = DEFAULT_C,
    keep: tuple[str, ...] | None = None,
    sample_weight: Sequence[float] | None = None,
    meta: dict[str, Any] | None = None,
) -> Model:
    """A shipped-style model trained on these comments (rows weighted by `sample_weight`)."""
    require_sklearn()
    feats = [select(extract(b).values, keep) for b in bodies]
    matrix = _vectorise(feats)
    bias, coef = _logistic(matrix.rows, labels, c, sample_weight)
    weights = {n: float(w) for n, w in zip(matrix.names, coef, strict=True) if abs(w) >= 1e-4}
    return Model(bias=bias, weights=weights, meta=dict(meta or {}))


def fit_site(
    base: Model,
    bodies: Sequence[str],
    labels: Sequence[bool],
    *,
    c: float = 1.0,
    meta: dict[str, Any] | None = None,
) -> Model:
    """A site model: the shipped model's log-odds plus this site's own n-grams.

    The shipped logit is one more input (``base_scale`` is its learned weight), so with
    few labels the site model leans on the shipped one and only corrects it where the
    site's moderators consistently disagree. It is held within ±`SITE_BASE_CAP` first:
    the shipped model can be all but certain (a logit of -5 for a report that asks
    nothing), and no handful of the site's labels could then outweigh it.
    """
    require_sklearn()
    import numpy as np
    from scipy.sparse import csr_matrix, hstack

    extracted = [extract(b) for b in bodies]
    cap = SITE_BASE_CAP
    base_logits = [held_within(base.logit(f), cap) for f in extracted]
    matrix = _vectorise([f.values for f in extracted])
    column = csr_matrix(np.array(base_logits, dtype=float).reshape(-1, 1))
    bias, coef = _logistic(hstack([column, matrix.rows]).tocsr(), labels, c)
    weights = {n: float(w) for n, w in zip(matrix.names, coef[1:], strict=True) if abs(w) >= 1e-4}
    return Model(
        bias=bias, weights=weights, base_scale=float(coef[0]), base_cap=cap, meta=dict(meta or {})
    )


def score_all(model: Model, bodies: Iterable[str], base: Model | None = None) -> list[float]:
    """Probabilities for many comments (the site model needs its base)."""
    out = []
    for body in bodies:
        f: Features = extract(body)
        base_logit = base.logit(f) if base is not None else None
        out.append(probability(model.logit(f, base_logit)))
    return out
