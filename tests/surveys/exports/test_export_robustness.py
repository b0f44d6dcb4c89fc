"""One stored value never fails an export: each format writes what it can represent.

Values a page refuses today can still be stored (imported, or saved before today's limits): an
integer beyond 32 bits, dates at the ends of the calendar, control characters pasted from a word
processor, huge and tiny numbers. Every format, with every date mode, writes a file; the FHIR
export and the API's FHIR view answer. A table of cases, then generated values (hypothesis).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.exports.spec import DATES, FORMATS, ExportSpec
from surveys.interop.fhir.response_export import response_export
from surveys.models import Response
from tests.surveys.exports.test_exports_formats import build_study, write

HOSTILE = {
    "cigs": 3_000_000_000,
    "pain": 10**20,
    "weight": 1.7976931348623157e308,
    "health": -(2**63),
    "visit": "9999-12-31",
    "why": "pasted\x0bfrom\x0cWord\x1b\x7f\u2028end",
    "drug": "=cmd|' /C calc'!A0",
}
EDGES = [
    {"visit": "0001-01-01"},
    {"visit": "2026-13-45"},
    {"weight": 5e-324},
    {"cigs": -(2**31) - 1},
    {"help": ["fam", "unknown-code"]},
    {"mood": "not-an-option"},
    {"smoker": "maybe"},
]


def store(response: Response, answers: dict) -> None:
    Response.objects.filter(pk=response.pk).update(answers={**response.answers, **answers})


def every_export(study) -> None:
    for fmt in FORMATS:
        for dates in DATES:
            if fmt == "fhir_ndjson" and dates == "days_since_enrolment":
                continue  # refused by the spec: FHIR has no relative dates
            data, _stats = write(ExportSpec(study_id=study.pk, format=fmt, dates=dates))
            assert data, (fmt, dates)


@pytest.mark.parametrize("answers", [HOSTILE, *EDGES], ids=lambda a: ",".join(a))
def test_a_hostile_stored_value_fails_no_export(make, answers):
    study, _q, _version, responses = build_study(make)
    store(responses[0], answers)
    every_export(study)
    response_export(Response.objects.get(pk=responses[0].pk))


def test_the_api_fhir_view_answers_for_a_hostile_value(client, make):
    study, _q, _version, responses = build_study(make)
    store(responses[0], HOSTILE)
    user = make.user()
    make.member(user=user, study=study, role="data_manager")
    client.force_login(user)
    answer = client.get(f"/api/studies/{study.code}/responses/{responses[0].pk}/fhir/")
    assert answer.status_code == 200, answer.content[:300]


NUMBERS = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False, allow_infinity=False))
TEXTS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40)
DATE_TEXTS = st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat)


def test_generated_stored_values_fail_no_export(make):
    study, _q, _version, responses = build_study(make, participants=1)

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cigs=NUMBERS, weight=NUMBERS, why=TEXTS, drug=TEXTS, visit=DATE_TEXTS)
    def run(cigs, weight, why, drug, visit):
        store(responses[0], {"cigs": cigs, "weight": weight, "why": why, "drug": drug, "visit": visit})
        every_export(study)
        response_export(Response.objects.get(pk=responses[0].pk))

    run()
