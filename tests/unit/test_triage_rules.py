"""The first, hand-written triage rules (kept as the reference the model is measured against)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.triage import TriageResult
from notifier.triage.evaluate import (
    LabelledComment,
    Metrics,
    evaluate,
    format_report,
    load_labelled,
    run_triage_lines,
)
from notifier.triage.rules import RULES_THRESHOLD, triage

LABELLED = Path(__file__).parent.parent / "data" / "triage_comments.jsonl"


def reasons_text(result: TriageResult) -> str:
    return " | ".join(result.reasons)


# --- what counts as a medical question ---------------------------------------


def test_relapse_question_without_question_mark_is_medical() -> None:
    result = triage(
        "got the news of my relapse this week after velcade and revlimid. just wanted to know "
        "if the newer drugs would get me into a longer remission"
    )
    assert result.medical_question
    assert "relapse" in reasons_text(result)


def test_own_treatment_question_names_the_asking_phrase() -> None:
    result = triage("my light chains doubled since my last check. should I push for treatment now?")
    assert result.medical_question
    assert 'asks about their own treatment — "should I"' in result.reasons


def test_question_for_a_relative_says_so() -> None:
    result = triage("My father is on Darzalex and his M-spike is rising. Is it time to switch?")
    assert result.medical_question
    assert 'asks on behalf of a relative — "my father"' in result.reasons


def test_indirect_question_about_side_effects_is_medical() -> None:
    result = triage("Any advice on constipation from thalidomide, nothing is working for me")
    assert result.medical_question


def test_question_about_tests_without_drug_names_is_medical() -> None:
    result = triage("my bone marrow biopsy showed 60% plasma cells. do I need to start treatment?")
    assert result.medical_question
    assert "bone marrow biopsy" in reasons_text(result)


def test_misspelt_drug_is_named_in_reasons() -> None:
    result = triage("I'm on revlemid and dexamethazone, is this rash normal?")
    assert result.medical_question
    assert 'Revlimid ("revlemid")' in reasons_text(result)
    assert 'dexamethasone ("dexamethazone")' in reasons_text(result)


def test_common_misspellings_are_recognised() -> None:
    for word, name in [
        ("revlimed", "Revlimid"),
        ("velcaid", "Velcade"),
        ("darzelex", "Darzalex"),
        ("carfilzamib", "Kyprolis"),
    ]:
        assert f'{name} ("{word}")' in reasons_text(triage(f"should I stop {word}?")), word


def test_generic_and_brand_names_are_one_drug() -> None:
    result = triage("Is bortezomib the same as Velcade? I was given bortezomib.")
    assert "names drugs — Velcade" in result.reasons


def test_ordinary_words_are_not_taken_for_drugs() -> None:
    result = triage("Can you be explicit about the decades of research?")
    assert "names drugs" not in reasons_text(result)


# --- what does not ------------------------------------------------------------


def test_thank_you_note_is_not_medical() -> None:
    result = triage("Thank you so much for this article, it gave me hope on a hard day.")
    assert not result.medical_question
    assert "reads as thanks/encouragement" in result.reasons


def test_story_full_of_drug_names_that_asks_nothing_is_not_medical() -> None:
    result = triage(
        "Diagnosed in 2015, had velcade, revlimid and dex, then a transplant. Relapsed and "
        "Darzalex worked for 3 years. Now in remission after Carvykti. Never give up!"
    )
    assert not result.medical_question
    assert "names drugs" in reasons_text(result)


def test_spam_full_of_drug_names_is_not_medical() -> None:
    result = triage(
        "Cheap Revlimid, Velcade, Pomalyst no prescription! Is it safe? YES! "
        '<a href="http://spam.example">click here</a>'
    )
    assert not result.medical_question
    assert result.score == 0.0
    assert result.reasons[0].startswith('looks like spam — a link, "cheap", "no prescription"')


def test_question_about_a_webinar_is_not_medical() -> None:
    result = triage("When is the next webinar? I missed the last one about CAR-T.")
    assert not result.medical_question
    assert 'asks about the blog, events or donations — "webinar"' in result.reasons


def test_question_about_donating_is_not_medical() -> None:
    assert not triage("How can I donate in memory of my father?").medical_question


def test_sociable_question_is_not_medical() -> None:
    assert not triage("Dex insomnia club checking in at 3am 😂 anyone else?").medical_question


def test_emoji_and_foreign_thanks_are_not_medical() -> None:
    for body in ["❤️❤️❤️ thank you!!!", "شكرا جزيلا على هذا المقال", "Спасибо за статью!"]:
        assert not triage(body).medical_question, body


# --- score and threshold ------------------------------------------------------


def test_threshold_decides_the_verdict() -> None:
    body = "Is Aredia still used? I was given pamidronate."
    score = triage(body).score
    assert triage(body, threshold=score).medical_question
    assert not triage(body, threshold=score + 0.01).medical_question


def test_score_is_between_zero_and_one() -> None:
    result = triage("should I take velcade? " * 100)
    assert 0.0 <= result.score <= 1.0
    assert RULES_THRESHOLD == 0.6


@settings(max_examples=300, deadline=None)
@given(body=st.text(), author=st.none() | st.text())
def test_hostile_input_never_raises(body: str, author: str | None) -> None:
    result = triage(body, author)
    assert 0.0 <= result.score <= 1.0
    assert result.reasons
    assert all(isinstance(r, str) and len(r) < 2000 for r in result.reasons)


def test_megabyte_body_with_control_characters_is_handled_quickly() -> None:
    body = ("\x00should\x1b I take velcade?\u202e ‏ 💊 " * 40_000) + "<" * 100_000
    result = triage(body, "pharma\x00deals")
    assert result.medical_question
    assert triage("").reasons == ("asks nothing",)


# --- the labelled set and the published figures -------------------------------


def test_labelled_file_has_enough_items_in_both_splits_with_unique_ids() -> None:
    items = load_labelled(LABELLED)
    assert len(items) >= 150
    assert {i.split for i in items} == {"tune", "holdout"}
    assert sum(i.split == "holdout" for i in items) >= 60
    assert len({i.id for i in items}) == len(items)
    positives = sum(i.medical_question for i in items) / len(items)
    assert 0.35 <= positives <= 0.55


def test_held_out_comments_meet_precision_and_recall_targets() -> None:
    # Measured once on the held-out split, which no rule was tuned on: 34 tp, 1 fp, 0 fn.
    holdout = evaluate(load_labelled(LABELLED), RULES_THRESHOLD, triage)["split=holdout"]
    assert holdout.precision >= 0.9
    assert holdout.recall >= 0.9


def test_metrics_are_zero_when_undefined() -> None:
    assert Metrics().precision == 0.0
    assert Metrics().recall == 0.0
    assert Metrics(tp=3, fp=1, fn=1).precision == 0.75


def test_evaluate_counts_per_split_and_overall() -> None:
    items = [
        LabelledComment("a", "should I stop revlimid?", None, True, "tune"),
        LabelledComment("b", "Thank you!", None, False, "tune"),
        LabelledComment("c", "Thanks for the post", None, True, "holdout"),
    ]
    metrics = evaluate(items, RULES_THRESHOLD, triage)
    assert metrics["split=tune"] == Metrics(tp=1, tn=1)
    assert metrics["split=holdout"] == Metrics(fn=1)
    assert metrics["all"] == Metrics(tp=1, fn=1, tn=1)
    report = format_report(metrics)
    assert report.splitlines()[1].startswith("all")
    assert "precision" in report


# --- run_triage_lines ---------------------------------------------------------


def test_run_triage_lines_writes_one_json_line_per_input() -> None:
    out = io.StringIO()
    lines = [
        json.dumps({"id": 7, "body": "should I stop velcade?", "author_name": "Ann"}),
        json.dumps({"body": "Thank you!"}),
    ]
    bad = run_triage_lines(lines, out, explain=False, threshold=RULES_THRESHOLD, score=triage)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert bad == 0
    assert first["id"] == 7
    assert first["medical_question"] is True
    assert isinstance(first["score"], float)
    assert "names drugs — Velcade" in first["reasons"]
    assert "id" not in second
    assert second["medical_question"] is False


def test_bad_lines_get_an_error_line_and_are_counted() -> None:
    out = io.StringIO()
    lines = ["{not json", json.dumps({"id": 1}), "[1, 2]", json.dumps({"body": "hi"}), "\n"]
    bad = run_triage_lines(lines, out, explain=False, threshold=RULES_THRESHOLD, score=triage)
    written = [json.loads(line) for line in out.getvalue().splitlines()]
    assert bad == 3
    assert [("error" in w) for w in written] == [True, True, True, False]
    assert written[1]["error"].startswith("line 2:")


def test_explain_writes_a_readable_table() -> None:
    out = io.StringIO()
    lines = [
        json.dumps({"id": "c1", "body": "my dad's M-spike is up on darzelex, should he switch"})
    ]
    lines.append("oops")
    bad = run_triage_lines(lines, out, explain=True, threshold=RULES_THRESHOLD, score=triage)
    header, row, error = out.getvalue().splitlines()
    assert bad == 1
    assert header.split() == ["id", "verdict", "score", "reasons"]
    assert row.startswith("c1")
    assert "MEDICAL" in row
    assert 'Darzalex ("darzelex")' in row
    assert error.startswith("line 2")
    assert "ERROR" in error
