"""`manage.py yes_no_answers_check`: which responses a lost yes/no answer may have cost, read-only."""

from __future__ import annotations

import copy
import csv
import io
import re

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from surveys.answering.answer_checks import (
    EMPTY_YES_NO,
    HIDDEN_FOLLOW_UP,
    response_findings,
    version_shape,
    yes_no_answers_check,
)
from surveys.models import Response
from surveys.questionnaires import conditions, publish

SEX = [("f", "Femme", "Woman", None), ("m", "Homme", "Man", None)]


@pytest.fixture
def version(make):
    """Page 1: smoker (yes/no), sex, pregnant (yes/no, women only); page 2: cigs (smokers only);
    page 3: later (yes/no)."""
    q = make.questionnaire(code="habits")
    pages = [make.section(questionnaire=q, link_id=f"p{n}", order=n) for n in (1, 2, 3)]
    make.item(questionnaire=q, link_id="smoker", type="yes_no", section=pages[0])
    make.item(questionnaire=q, link_id="sex", section=pages[0], options=SEX)
    pregnant = make.item(questionnaire=q, link_id="pregnant", type="yes_no", section=pages[0])
    make.condition(item=pregnant, question="sex", operator="=", answer="f")
    cigs = make.item(questionnaire=q, link_id="cigs", type="integer", section=pages[1], min_value=0, max_value=100)
    make.condition(item=cigs, question="smoker", operator="=", answer="true")
    make.item(questionnaire=q, link_id="later", type="yes_no", section=pages[2])
    return publish.questionnaire_publish(questionnaire=q, by=None)


def respond(make, version, answers: dict, *, status: str = "completed", next_page: int = 3, pseudonym=None):
    tp = make.timepoint(version=version)
    participant = make.participant(study=version.questionnaire.study, pseudonym=pseudonym)
    assignment = make.assignment(participant=participant, timepoint=tp)
    return make.response(assignment=assignment, status=status, answers=answers, next_page=next_page)


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("yes_no_answers_check", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def found(**options) -> dict[int, list[tuple[str, str]]]:
    return {r.response_id: r.findings for r in yes_no_answers_check(**options) if r.findings}


def test_an_empty_yes_no_on_a_shown_page_is_listed_with_the_follow_up_it_hid(make, version):
    lost = respond(make, version, {"sex": "m", "later": False}, pseudonym="P-LOST1")
    assert found() == {lost.pk: [("smoker", EMPTY_YES_NO), ("cigs", HIDDEN_FOLLOW_UP)]}
    out, _err = run()
    assert f"{version.questionnaire.study.code} · P-LOST1 · habits v{version.number}" in out
    assert f"response {lost.pk}, submitted" in out and "smoker (yes/no shown, no answer)" in out
    assert "cigs (hidden now by a condition on an empty yes/no)" in out
    assert "Checked 1 submitted response(s); 1 may have lost answers: 1 yes/no item(s)" in out


def test_answered_yes_no_items_are_not_listed_false_included(make, version):
    respond(make, version, {"smoker": False, "sex": "f", "pregnant": False, "later": True})
    respond(make, version, {"smoker": True, "cigs": 5, "sex": "m", "later": False})
    assert found() == {}
    assert "Checked 2 submitted response(s); 0 may have lost answers" in run()[0]


def test_a_yes_no_hidden_by_its_condition_or_on_a_page_not_reached_is_not_listed(make, version):
    # pregnant is hidden for a man; later is on page 3, which this response never reached.
    ongoing = respond(make, version, {"smoker": True, "cigs": 2, "sex": "m"}, status="in_progress", next_page=2)
    assert found() == {}  # in progress: not checked by default
    assert found(include_in_progress=True) == {}
    # One page back: cigs (page 2) was never reached either, so nothing was erased there.
    Response.objects.filter(pk=ongoing.pk).update(answers={"sex": "f"}, next_page=1)
    assert found(include_in_progress=True) == {ongoing.pk: [("smoker", EMPTY_YES_NO), ("pregnant", EMPTY_YES_NO)]}
    assert "in progress: smoker" in run("--include-in-progress")[0]


def test_questionnaire_hidden_items_are_never_counted_as_shown(make, version):
    definition = copy.deepcopy(version.definition)
    answers = {"smoker": True, "cigs": 1, "sex": "m"}  # later unanswered
    assert response_findings(version_shape(definition), answers, next_page=3, completed=True) == [
        ("later", EMPTY_YES_NO)
    ]
    later = definition["item"][2]["item"][0]
    later["extension"] = [*later.get("extension", []), {"url": conditions.EXT_HIDDEN, "valueBoolean": True}]
    assert response_findings(version_shape(definition), answers, next_page=3, completed=True) == []


def test_csv_output_parses_with_its_header_and_the_summary_on_stderr(make, version):
    lost = respond(make, version, {"sex": "m", "later": True}, pseudonym="P-CSV1")
    respond(make, version, {"smoker": False, "sex": "m", "later": True})
    out, err = run("--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "study",
        "pseudonym",
        "questionnaire",
        "version",
        "response_id",
        "submitted_at",
        "item",
        "kind_of_finding",
    ]
    assert [(r["pseudonym"], r["response_id"], r["item"], r["kind_of_finding"]) for r in rows] == [
        ("P-CSV1", str(lost.pk), "smoker", EMPTY_YES_NO),
        ("P-CSV1", str(lost.pk), "cigs", HIDDEN_FOLLOW_UP),
    ]
    assert rows[0]["study"] == version.questionnaire.study.code and rows[0]["version"] == str(version.number)
    assert rows[0]["submitted_at"].startswith(str(lost.submitted_at.date()))
    assert "Checked 2 submitted response(s); 1 may have lost answers" in err


def test_study_filter_and_unknown_study(make, version):
    respond(make, version, {"sex": "m", "later": True})
    other = make.study()
    assert "0 may have lost answers" in run("--study", other.code)[0]
    assert "1 may have lost answers" in run("--study", other.code, "--study", version.questionnaire.study.code)[0]
    with pytest.raises(CommandError, match="No study with code nowhere"):
        run("--study", "nowhere")


def test_it_changes_nothing_and_never_reads_the_patient_register(make, version):
    lost = respond(make, version, {"sex": "m", "later": True}, pseudonym="P-IDENT1")
    respond(make, version, {"sex": "f"}, status="in_progress", next_page=1)
    make.enrollment(patient=make.patient(name="Eulalie Vasseur"), participant=lost.assignment.participant)

    def snapshot() -> dict:
        counts = {model._meta.label: model._default_manager.count() for model in apps.get_models()}
        return counts | {
            "answers": list(Response.objects.order_by("pk").values_list("answers", "next_page", "updated_at"))
        }

    before = snapshot()
    with CaptureQueriesContext(connection) as queries:
        text, _err = run("--include-in-progress")
        table, _err = run("--format", "csv")
    assert snapshot() == before  # history rows included: every model is counted

    # Reads only: SELECTs, which .iterator() on PostgreSQL runs through a server-side cursor.
    def reads(sql: str) -> bool:
        sql = re.sub(r"\s+", " ", sql.strip().upper())
        return sql.startswith(("SELECT", "FETCH ", "CLOSE ")) or (
            sql.startswith("DECLARE ") and " CURSOR " in sql and " FOR SELECT " in sql
        )

    assert all(reads(q["sql"]) for q in queries.captured_queries), [q["sql"][:80] for q in queries.captured_queries]
    assert not [q["sql"] for q in queries.captured_queries if "patients_" in q["sql"]]
    assert "P-IDENT1" in text and "P-IDENT1" in table and "Eulalie" not in text + table
