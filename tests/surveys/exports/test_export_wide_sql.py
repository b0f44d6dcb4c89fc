"""The wide CSV built by PostgreSQL (surveys/exports/wide_sql.py) is byte for byte the Python writer's.

Every export choice (date modes, labels, free text, completed only) over a table of cases: every item
type, multiple choice, missing, not asked (an item and an option absent from the version answered),
scores and bands, decimals, datetimes on both sides of daylight saving time changes, quotes, newlines
and commas in text, a text that looks like a formula. Then generated values and instants (hypothesis).
Values only the Python writer can render (a number typed as text...) make their row a marker that
the Python writer fills in: the bytes are the same again, and the test says which rows Python wrote.
PostgreSQL only.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
from unittest.mock import patch

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.exports import wide_sql, writers
from surveys.exports.spec import ExportSpec
from surveys.models import Assignment, Item, Response
from surveys.questionnaires.publish import questionnaire_publish
from tests.conftest import need_service
from tests.surveys.exports.test_exports_formats import RULES

pytestmark = pytest.mark.django_db

PARIS = dt.timezone(dt.timedelta(hours=1))


@pytest.fixture(autouse=True)
def _postgresql() -> None:
    need_service(
        "PostgreSQL", connection.vendor == "postgresql", "COPY needs PostgreSQL; set DATABASE_URL=postgres://..."
    )


def build(make):
    """Every item type over two versions: v2 adds an option to `help` and the items `when` (date and
    time) and `at` (time of day), and drops `drug`; `mood` is an open choice (its "other" text)."""
    study = make.study(code="sql-study", languages=["fr", "en"], fallback_language="fr", time_zone="Europe/Paris")
    q = make.every_type_questionnaire(study=study)
    q.rules = RULES
    q.save()
    v1 = questionnaire_publish(questionnaire=q, by=None)
    help_item = Item.objects.get(questionnaire=q, link_id="help")
    make.answer_option(item=help_item, code="-99", label_fr="Pharmacien, « dit-il »", label_en='Pharmacist, "he said"')
    make.item(questionnaire=q, link_id="when", type="datetime", text_fr="Quand ?", text_en="When?")
    make.item(questionnaire=q, link_id="at", type="time", text_fr="À quelle heure ?", text_en="At what time?")
    Item.objects.filter(questionnaire=q, link_id="drug").delete()
    v2 = questionnaire_publish(questionnaire=q, by=None)
    for version in (v1, v2):
        definition = version.definition
        for node in _nodes(definition["item"]):
            if node.get("linkId") == "mood":
                node["type"] = "open-choice"
        # Versions are immutable through the ORM; an open choice arrives with an imported version.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE surveys_questionnaireversion SET definition = %s WHERE id = %s",
                [json.dumps(definition), version.pk],
            )
    tp1 = make.timepoint(version=v1, code="t0", order=0)
    tp2 = make.timepoint(version=v2, code="m1", order=1)
    return study, (v1, tp1), (v2, tp2)


def _nodes(items):
    for node in items:
        yield node
        yield from _nodes(node.get("item", []))


def add_response(make, study, version_tp, *, n: int, answers: dict, **kw) -> Response:
    version, tp = version_tp
    site = kw.pop("site", None)
    participant = make.participant(
        study=study,
        pseudonym=kw.pop("pseudonym", f"SQL-{n:04d}"),
        site=site,
        created_at=kw.pop("enrolled", dt.datetime(2026, 1, 5, 23, 30, tzinfo=dt.UTC)),
    )
    due = kw.pop("due", dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))
    assignment = make.assignment(
        participant=participant, timepoint=tp, due_at=due, invitation_channel=kw.pop("channel", "sms")
    )
    status = kw.pop("status", "completed")
    submitted = kw.pop("submitted", due + dt.timedelta(hours=30))
    return make.response(
        assignment=assignment,
        version=version,
        status=status,
        answers=answers,
        submitted_at=submitted if status == "completed" else None,
        scores=kw.pop("scores", {"total": {"value": 2, "band": "high"}}),
        **kw,
    )


FULL = {
    "mood": "a2",
    "why": 'tired, "very", see\nnote\r\nend',
    "help": ["gp", "fam"],
    "smoker": True,
    "cigs": 3,
    "weight": 71.5,
    "pain": 4,
    "health": 80,
    "visit": "2026-02-20",
    "drug": "=cmd|' /C calc'!A0",
    "when": "2026-03-29T02:30",
    "at": "14:05",
}
CASES = [
    FULL,
    {},  # nothing answered yet
    {"mood": "other text, typed", "help": ["fam", "-99", "written in"], "smoker": False},
    {"mood": ["zz", "a1", "a0"], "help": [], "smoker": "oui", "cigs": 0, "weight": 70.0, "visit": "2026-02-30"},
    {"mood": "", "help": [None, ""], "smoker": 1, "weight": 0.1, "pain": 10**20, "visit": "not a date"},
    {"help": "gp", "smoker": "non", "weight": 123456789.125, "health": -0.0, "visit": "2026-10-25T12:00"},
    {"help": ["-99"], "when": "2026-10-25T02:30:15", "weight": 3.0000000000000004, "cigs": -(2**40)},
    {"why": "", "drug": "", "at": "", "when": "", "visit": "", "weight": None, "smoker": None},
    {"why": ",", "drug": '"', "mood": "a1", "cigs": 12.0, "weight": -2.5e-3},
    {"visit": "0001-01-01", "when": "9998-12-31T23:59:59", "health": 99.99},
]
SCORES = [
    {"total": {"value": 2, "band": "high"}},
    {},
    {"total": {"value": None}},
    {"total": {"value": 1.5, "band": "unknown-band"}},
    {"total": {"value": 12.0, "band": "low"}},
    {"total": "not an entry"},
]
INSTANTS = [
    # (due, submitted): across DST changes in Paris, whole hours, a half hundredth of an hour.
    (dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC), dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)),
    (dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC), dt.datetime(2026, 10, 25, 1, 30, 54, tzinfo=dt.UTC)),
    (dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)),  # before due
    (dt.datetime(1890, 6, 1, 12, 0, tzinfo=dt.UTC), dt.datetime(1890, 6, 1, 12, 0, 18, 500000, tzinfo=dt.UTC)),
]
SPECS = [
    {"dates": dates, "labels": labels, "exclude_free_text": exclude, "completed_only": completed}
    for dates, labels, exclude, completed in itertools.product(
        ("exact", "shifted", "days_since_enrolment"), (False, True), (False, True), (False, True)
    )
]


def both(spec: ExportSpec, rendered: list[int] | None = None) -> tuple[bytes, bytes, list[bool]]:
    """(bytes with the SQL path, bytes from the Python writer, whether each table took the SQL path);
    `rendered` receives the ids of the rows the SQL path left to the Python writer."""
    taken: list[bool] = []
    real, real_render = writers.wide_csv_rows_sql, wide_sql._PythonRows.render

    def spy(**kw):
        built = real(**kw)
        taken.append(built is not None)
        return built

    def render_spy(self, ids):
        if rendered is not None:
            rendered.extend(ids)
        return real_render(self, ids)

    with patch.object(writers, "wide_csv_rows_sql", spy), patch.object(wide_sql._PythonRows, "render", render_spy):
        sql_out = io.BytesIO()
        sql_stats = writers.export_write(spec=spec, out=sql_out)
    with patch.object(writers, "wide_csv_rows_sql", lambda **kw: None):
        py_out = io.BytesIO()
        py_stats = writers.export_write(spec=spec, out=py_out)
    assert sql_stats == py_stats
    return sql_out.getvalue(), py_out.getvalue(), taken


def _assert_same(sql: bytes, python: bytes, label) -> None:
    if sql != python:
        sql_lines, py_lines = sql.split(b"\r\n"), python.split(b"\r\n")
        for a, b in zip(sql_lines, py_lines, strict=False):
            assert a == b, label
        assert sql == python, label


def test_the_sql_rows_are_the_python_rows_for_every_case_and_choice(make):
    study, v1, v2 = build(make)
    site = make.site(study=study, code="nord, sud")
    n = 0
    for answers, scores, (due, submitted) in itertools.product(CASES, SCORES[:3], INSTANTS[:2]):
        n += 1
        add_response(
            make, study, v1 if n % 2 else v2, n=n, answers=answers, scores=scores, due=due, submitted=submitted
        )
    for index, answers in enumerate(CASES):
        due, submitted = INSTANTS[index % len(INSTANTS)]
        add_response(
            make,
            study,
            v2,
            n=1000 + index,
            answers=answers,
            scores=SCORES[index % len(SCORES)],
            due=due,
            submitted=submitted,
            status="in_progress" if index % 3 == 0 else "completed",
            site=site if index % 2 else None,
            channel="" if index % 4 == 0 else "email",
            pseudonym=f'P "{index}", x' if index == 3 else None,
        )
    for options in SPECS:
        spec = ExportSpec(study_id=study.pk, format="wide_csv", language="en" if options["labels"] else None, **options)
        rendered: list[int] = []
        sql, python, taken = both(spec, rendered)
        assert taken == [True] and rendered == [], options
        _assert_same(sql, python, options)
    # Several questionnaires: a zip of one CSV each, every entry the same.
    other = make.questionnaire(study=study, code="zz-second")
    make.item(questionnaire=other, link_id="x", options=[("1", "Un", "One", 1)])
    version = questionnaire_publish(questionnaire=other, by=None)
    add_response(make, study, (version, make.timepoint(version=version, code="z0")), n=5000, answers={"x": "1"})
    sql, python, taken = both(ExportSpec(study_id=study.pk, format="wide_csv"))
    assert taken == [True, True]
    import zipfile

    with zipfile.ZipFile(io.BytesIO(sql)) as a, zipfile.ZipFile(io.BytesIO(python)) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            assert a.read(name) == b.read(name), name


ODD = [
    {"cigs": "12"},  # a number typed as text: read_number's rules
    {"visit": "20260220"},  # another ISO form date.fromisoformat reads
    {"visit": 20260220},
    {"when": "29/03/2026 02:30"},
    {"mood": {"code": "a1", "system": "x"}},  # an imported Coding
    {"help": ["fam", 1]},
    {"smoker": "Oui "},
    {"drug": ["a", "list"]},
    {"weight": 1e-7},
    {"weight": 1e16 + 0.0},
]


@pytest.mark.parametrize("answers", ODD, ids=lambda a: repr(a)[:40])
def test_a_value_only_python_renders_has_its_row_written_by_python(make, answers):
    study, v1, _v2 = build(make)
    add_response(make, study, v1, n=1, answers=FULL)
    odd = add_response(make, study, v1, n=2, answers={**FULL, **answers})
    add_response(make, study, v1, n=3, answers=FULL)
    for dates in ("exact", "shifted"):
        rendered: list[int] = []
        sql, python, taken = both(ExportSpec(study_id=study.pk, format="wide_csv", dates=dates), rendered)
        assert taken == [True] and rendered == [odd.pk]
        assert sql == python


ODD_SCORES = [
    {"total": {"value": "2.5"}},
    {"total": {"value": True}},
    {"total": {"value": [1]}},
    {"total": {"value": 1e20}},
    {"total": {"value": 2, "band": 2.0}},
    {"total": {"value": 2, "band": True}},
    {"total": {"value": 2, "band": ["high"]}},
]


@pytest.mark.parametrize("scores", ODD_SCORES, ids=repr)
def test_an_odd_score_has_its_row_written_by_python(make, scores):
    study, v1, _v2 = build(make)
    add_response(make, study, v1, n=0, answers=FULL)
    odd = add_response(make, study, v1, n=1, answers=FULL, scores=scores)
    rendered: list[int] = []
    sql, python, _taken = both(ExportSpec(study_id=study.pk, format="wide_csv"), rendered)
    assert rendered == [odd.pk] and sql == python


@pytest.mark.parametrize("flush", [1, 7, 64, 100_000])
def test_rows_cut_anywhere_by_copy_blocks_come_out_whole(make, flush):
    """Blocks of any size (a row, a quoted field or a marker cut in two; the output waiting on disk
    from the first marker on) give the same file."""
    study, v1, v2 = build(make)
    for n, answers in enumerate([*CASES, *ODD, FULL, *ODD[:2]]):
        add_response(make, study, v1 if n % 2 else v2, n=n, answers=answers if n % 3 else {**FULL, **answers})
    with patch.object(wide_sql, "FLUSH", flush):
        for dates in ("exact", "days_since_enrolment"):
            rendered: list[int] = []
            sql, python, _taken = both(ExportSpec(study_id=study.pk, format="wide_csv", dates=dates), rendered)
            assert len(rendered) >= len(ODD)
            _assert_same(sql, python, (flush, dates))


def test_progress_and_stats_are_those_of_the_python_writer(make):
    study, v1, _v2 = build(make)
    for n in range(3):
        add_response(make, study, v1, n=n, answers=FULL)
    seen: list[tuple[int, int]] = []
    stats = writers.export_write(
        spec=ExportSpec(study_id=study.pk, format="wide_csv"), out=io.BytesIO(), progress=lambda *a: seen.append(a)
    )
    assert stats.rows == 3 and stats.responses == 3 and stats.participants == 3
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)


# --- generated ------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
CODES = st.sampled_from(["a0", "a1", "a2", "zz", "", "fam", "gp", "none", "-99"])
NUMBER = st.one_of(
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e17, max_value=1e17),
    st.sampled_from([0.1, 0.015, 71.5, -0.0, 1e-5, 2.675]),
)
DATE_TEXT = st.one_of(
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat),
    st.sampled_from(["2026-02-29", "2024-02-29", "", "x", "2026-1-1", "20260101", "2026-W01-1"]),
)
WALL = st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59)).map(
    lambda w: w.isoformat(timespec="seconds" if w.second else "minutes")
)
DST = st.sampled_from(["2026-03-29T02:30", "2026-10-25T02:30", "2026-10-25T03:00:00", "2026-03-29T01:59:59"])
ANSWERS = st.fixed_dictionaries(
    {},
    optional={
        "mood": st.one_of(CODES, st.lists(CODES, max_size=3), TEXT),
        "why": TEXT,
        "help": st.one_of(st.lists(st.one_of(CODES, st.none()), max_size=4), CODES),
        "smoker": st.one_of(st.booleans(), st.sampled_from(["true", "false", "oui", "non", "", 0, 1, 2, "maybe"])),
        "cigs": NUMBER,
        "weight": NUMBER,
        "pain": NUMBER,
        "health": NUMBER,
        "visit": DATE_TEXT,
        "drug": TEXT,
        "when": st.one_of(WALL, DST, st.just("")),
        "at": TEXT,
    },
)
INSTANT = st.one_of(
    st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 12, 31), timezones=st.just(dt.UTC)),
    st.sampled_from(
        [dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC), dt.datetime(2026, 10, 25, 0, 59, 59, tzinfo=dt.UTC)]
    ),
)
SCORE = st.one_of(
    st.just({}),
    st.fixed_dictionaries(
        {
            "total": st.fixed_dictionaries(
                {
                    "value": st.one_of(st.none(), NUMBER),
                    "band": st.one_of(st.sampled_from(["low", "high", "?"]), st.none()),
                }
            )
        }
    ),
)


def test_generated_rows_are_the_python_rows(make):
    study, v1, v2 = build(make)
    first = add_response(make, study, v1, n=1, answers=FULL)
    second = add_response(make, study, v2, n=2, answers=FULL)
    rendered: list[int] = []
    exports = []

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        answers=st.tuples(ANSWERS, ANSWERS),
        scores=SCORE,
        due=INSTANT,
        delay=st.one_of(st.integers(min_value=-3600, max_value=10**6), st.sampled_from([18, 54, 90, 3600])),
        micro=st.integers(min_value=0, max_value=999_999),
        options=st.sampled_from(SPECS),
    )
    def run(answers, scores, due, delay, micro, options):
        for response, given_answers in zip((first, second), answers, strict=True):
            Response.objects.filter(pk=response.pk).update(
                answers=given_answers, scores=scores, submitted_at=due + dt.timedelta(seconds=delay, microseconds=micro)
            )
            Assignment.objects.filter(pk=response.assignment_id).update(
                due_at=due, expires_at=due + dt.timedelta(days=14)
            )
        spec = ExportSpec(study_id=study.pk, format="wide_csv", language="en" if options["labels"] else None, **options)
        sql, python, taken = both(spec, rendered)
        assert taken == [True]
        exports.append(spec)
        _assert_same(sql, python, (answers, scores, due, delay, options))

    run()
    # Two rows per export; about half the generated rows hold a value only Python renders.
    assert len(rendered) <= 2 * len(exports) * 3 // 4, "too few generated rows came from SQL"
