"""The learned triage: the shipped model, its explanations, languages, scores and threshold."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.triage import DEFAULT_THRESHOLD, triage
from notifier.triage.evaluate import (
    LabelledComment,
    Metrics,
    evaluate,
    format_report,
    load_labelled,
    run_triage_lines,
)
from notifier.triage.features import extract
from notifier.triage.language import detect
from notifier.triage.model import Model, ModelError, dump, load, loads
from notifier.triage.scorer import SHIPPED_MODEL, Scorer, shipped_model
from notifier.triage.train import fit, fit_site
from tests.learn_helpers import NEW_REPORT, chit_chat, line_reports

ROOT = Path(__file__).parent.parent.parent
# The shipped model is fitted to the training and development parts, so what it is
# checked on here is the last blind set: comments it never trained on.
UNSEEN = ROOT / "triage-data" / "blind" / "blind-9.jsonl"


# --- the shipped model ----------------------------------------------------------


def test_shipped_model_loads_the_same_every_time_and_round_trips_byte_for_byte() -> None:
    first, second = load(SHIPPED_MODEL), load(SHIPPED_MODEL)
    assert first == second
    assert dump(first) == SHIPPED_MODEL.read_bytes()
    assert len(first.weights) > 1_000 and first.base_scale is None
    assert "MeQSum" in first.meta["attribution"]


def test_model_files_are_small_enough_for_the_wheel() -> None:
    total = sum(p.stat().st_size for p in SHIPPED_MODEL.parent.glob("*.json.gz"))
    assert total < 50 * 1024 * 1024


def test_a_broken_model_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.json.gz"
    path.write_bytes(b"not gzip")
    with pytest.raises(ModelError, match="not a gzip-compressed JSON model"):
        load(path)
    with pytest.raises(ModelError, match="cannot read triage model"):
        load(tmp_path / "missing.json.gz")


def test_importing_the_worker_does_not_load_the_scorer_or_the_model() -> None:
    code = (
        "import sys, notifier.service, notifier.cli;"
        "print(sorted(m for m in sys.modules if m.startswith('notifier.triage.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    loaded = json.loads(out.replace("'", '"'))
    assert "notifier.triage.scorer" not in loaded
    assert "notifier.triage.features" not in loaded
    assert "notifier.triage.model" not in loaded


# --- what it recognises (examples from issue 10, and its kinds) -------------------


@pytest.mark.parametrize(
    "body",
    [
        "my wife's new pills make her confused, who do I talk to",
        "i have lymphoma what causes cramp after chemo treatment",
        "Gracias por el artículo. Mi padre tuvo un trasplante hace tres meses y ahora tiene "
        "fiebre de 38. ¿Debemos ir a urgencias o esperar a su cita?",
        "Bonjour, mon mari est sous Velcade et il a les pieds qui brûlent la nuit. "
        "Est-ce que ça peut devenir permanent ?",
        "minha mãe está com muita sede e confusa, o cálcio deu 12. podemos esperar o médico?",
    ],
)
def test_questions_as_readers_write_them_are_medical(body: str) -> None:
    assert triage(body).medical_question


@pytest.mark.parametrize(
    "body",
    [
        "Thank you so much! Velcade, Revlimid and dex got me to VGPR, so grateful to my team",
        "Isn't this research amazing? CAR-T could change everything.",
        "Please pray for my mum, she starts her transplant on Monday.",
        "Buy cheap Revlimid online without prescription, fast worldwide delivery!",
        "¡Mucho ánimo a todos! Juntos podemos.",
    ],
)
def test_thanks_rhetoric_prayers_and_spam_are_not(body: str) -> None:
    assert not triage(body).medical_question


# --- explanations ------------------------------------------------------------------


def test_reasons_are_words_from_the_comment_not_feature_ids() -> None:
    result = triage("my wife's new pills make her confused, who do I talk to")
    text = " | ".join(result.reasons)
    assert result.reasons[0] == "written in English"
    assert "“confused”" in text or "“pills”" in text
    assert not re.search(r"\b[wcs]:\S", text)  # no feature ids such as "c:onf"


def test_reasons_name_drugs_and_what_weighed_against() -> None:
    result = triage("Thank you so much! Velcade and dex got me to VGPR, so grateful")
    text = " | ".join(result.reasons)
    assert "names drugs — Velcade, dexamethasone" in result.reasons
    assert "against:" in text
    assert "reads as thanks or encouragement" in text


def test_explanations_are_the_same_on_every_run() -> None:
    body = "Mi madre no para de dormir desde que le cambiaron la medicación. ¿Es normal?"
    code = f"from notifier.triage import triage; print(triage({body!r}).reasons)"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout
        for _ in range(2)
    }
    assert len(runs) == 1
    assert runs.pop().strip() == str(triage(body).reasons)


# --- languages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "language"),
    [
        ("should I stop taking revlimid before my dental work?", "en"),
        ("¿Es normal tener hormigueo en los pies con el bortezomib?", "es"),
        ("É normal sentir formigamento nos pés com o bortezomibe?", "pt"),
        ("Est-il normal d'avoir des crampes après les perfusions ?", "fr"),
        ("Ich habe eine Frage zu meiner Behandlung mit Velcade.", "other"),
        ("", "other"),
    ],
)
def test_the_language_is_detected_and_reported(body: str, language: str) -> None:
    assert detect(body) == language
    assert triage(body).language == language


def test_accents_are_folded_so_spellings_with_and_without_them_match() -> None:
    with_accents = extract("medicación").values
    without = extract("medicacion").values
    assert with_accents == without


# --- scores, calibration and the threshold -------------------------------------------


def test_score_is_a_probability_with_many_distinct_values_on_unseen_comments() -> None:
    items = load_labelled(UNSEEN)
    scores = [triage(i.body).score for i in items]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len(set(scores)) > 0.9 * len(scores)


def test_higher_scores_are_more_often_questions_on_unseen_comments() -> None:
    items = load_labelled(UNSEEN)
    bands: dict[int, list[bool]] = {}
    for item in items:
        band = min(int(triage(item.body).score * 3), 2)  # low, middle, high thirds
        bands.setdefault(band, []).append(item.medical_question)
    shares = [sum(bands[b]) / len(bands[b]) for b in sorted(bands)]
    assert shares == sorted(shares)
    assert shares[0] < 0.2 and shares[-1] > 0.8


def test_the_threshold_keeps_its_meaning_higher_is_fewer_and_surer() -> None:
    items = load_labelled(UNSEEN)
    forwarded = {
        t: {i.id for i in items if triage(i.body, threshold=t).medical_question}
        for t in (0.2, DEFAULT_THRESHOLD, 0.8)
    }
    assert forwarded[0.8] < forwarded[DEFAULT_THRESHOLD] < forwarded[0.2]
    body = "is it safe to take ibuprofen with revlimid"
    score = triage(body).score
    assert triage(body, threshold=score).medical_question
    assert not triage(body, threshold=min(1.0, score + 1e-6)).medical_question


def test_blind_set_figures_hold_at_the_default_threshold() -> None:
    # The README's figures for blind set 9: precision 0.95, recall 0.94. A margin, so that
    # adding training rows does not fail this; a broken model falls far below.
    metrics = evaluate(load_labelled(UNSEEN), DEFAULT_THRESHOLD)
    assert metrics["all"].precision >= 0.90
    assert metrics["all"].recall >= 0.88


@settings(max_examples=200, deadline=None)
@given(body=st.text(), author=st.none() | st.text())
def test_hostile_input_never_raises(body: str, author: str | None) -> None:
    result = triage(body, author)
    assert 0.0 <= result.score <= 1.0
    assert result.reasons
    assert all(isinstance(r, str) and len(r) < 2000 for r in result.reasons)


def test_megabyte_body_with_control_characters_is_scored() -> None:
    body = ("\x00should\x1b I take velcade?\u202e ‏ 💊 " * 40_000) + "<" * 100_000
    result = triage(body, "pharma\x00deals")
    assert 0.0 <= result.score <= 1.0


# --- evaluate and the command's output -------------------------------------------------


def test_evaluate_reports_per_kind_and_language() -> None:
    items = [
        LabelledComment("a", "should I stop revlimid? my feet are numb", None, True, "", "x", "en"),
        LabelledComment("b", "¡Gracias a todos!", None, False, "", "thanks", "es"),
        LabelledComment("c", "Thanks for the post", None, True, "", "x", "en"),
    ]
    metrics = evaluate(items, DEFAULT_THRESHOLD)
    assert metrics["kind=x"] == Metrics(tp=1, fn=1)
    assert metrics["kind=thanks"] == Metrics(tn=1)
    assert metrics["lang=es"] == Metrics(tn=1)
    assert metrics["all"] == Metrics(tp=1, fn=1, tn=1)
    report = format_report(metrics)
    assert report.splitlines()[1].split()[:2] == ["all", "3"]
    assert "kind=thanks" in report


def test_labelled_files_accept_label_or_medical_question(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text(
        json.dumps({"body": "a", "label": 1, "kind": "k", "lang": "en"})
        + "\n"
        + json.dumps({"id": "x", "body": "b", "medical_question": False})
        + "\n"
    )
    first, second = load_labelled(path)
    assert (first.medical_question, first.kind, first.lang) == (True, "k", "en")
    assert (second.id, second.medical_question) == ("x", False)


def test_json_output_carries_the_language() -> None:
    out = io.StringIO()
    run_triage_lines(
        [json.dumps({"id": 1, "body": "¿Puedo tomar ibuprofeno?"})], out, explain=False
    )
    row = json.loads(out.getvalue())
    assert row["language"] == "es"
    assert row["reasons"][0] == "written in Spanish"


# --- a site model on top of the shipped one ----------------------------------------------


def test_a_site_model_learns_what_the_shipped_one_gets_wrong() -> None:
    # On this site, questions about the hospital shuttle go to the InfoLine too.
    questions = [f"when does the shuttle bus leave on {d}?" for d in ("monday", "tuesday")] * 15
    others = [f"Thank you all, lovely {w} here today." for w in ("weather", "people")] * 15
    shipped = shipped_model()
    site = fit_site(shipped, questions + others, [True] * 30 + [False] * 30)
    assert site.base_scale is not None
    body = "when does the shuttle bus leave on friday?"
    assert Scorer(site=site)(body).score > Scorer()(body).score
    result = Scorer(site=site)(body)
    assert result.model == "site"
    assert loads(dump(site)) == loads(dump(site))


def test_a_site_model_can_overrule_a_shipped_model_that_is_sure() -> None:
    # Moderators here flag reports about central lines, which ask nothing: the shipped
    # model is all but certain they are not questions. Two dozen labels must still teach
    # the site model, because it reads the shipped logit within ±base_cap.
    reports = line_reports(24)
    others = chit_chat(24)
    shipped = shipped_model()
    assert Scorer()(NEW_REPORT).score < 0.05
    site = fit_site(shipped, reports + others, [True] * 24 + [False] * 24)
    assert site.base_cap is not None
    assert Scorer(site=site)(NEW_REPORT).score >= DEFAULT_THRESHOLD
    assert not Scorer(site=site)(chit_chat(30)[-1]).medical_question
    assert loads(dump(site)).base_cap == site.base_cap


def test_a_site_model_saved_before_base_cap_scores_as_it_did() -> None:
    features = extract("the line")
    old = loads(dump(Model(bias=0.5, weights={"w:line": 1.0}, base_scale=2.0)))
    capped = Model(bias=0.5, weights={"w:line": 1.0}, base_scale=2.0, base_cap=3.0)
    assert old.base_cap is None
    # Uncapped, the shipped logit counts in full; capped, only up to 3.
    assert capped.logit(features, -6.0) - old.logit(features, -6.0) == pytest.approx(6.0)
    assert capped.logit(features, 2.0) == old.logit(features, 2.0)


def test_training_the_same_rows_twice_gives_the_same_bytes() -> None:
    bodies = ["should I worry about my platelets?", "thanks everyone!"] * 5
    labels = [True, False] * 5
    assert dump(fit(bodies, labels)) == dump(fit(bodies, labels))
