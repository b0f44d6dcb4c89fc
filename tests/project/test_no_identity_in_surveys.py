"""No table of the research app holds a name, an email address, a phone number or a birth date.

tests/project/test_boundaries.py checks the code (imports, field names); this checks the data itself,
after a realistic run: enrolments, answers, a withdrawal with deletion, another without.
"""

from __future__ import annotations

import json

from django.db import connection
from django.utils import timezone

from patients.consent.withdrawal import enrollment_withdraw
from patients.enrolment.enrol import EnrolmentData, enrollment_create
from surveys.answering.links import assignment_link_token
from surveys.answering.submit import response_save_page, response_submit
from surveys.scheduling.planning import assignments_refresh

PEOPLE = [
    # name, email as typed, phone as typed, E.164, birth date as typed, ISO
    (
        "Eulalie Vasseur-Quintard",
        " Eulalie.Vasseur@Exemple.FR ",
        "06 71 82 93 04",
        "+33671829304",
        "17/03/1949",
        "1949-03-17",
    ),
    (
        "Barnabé Oyarzabal",
        "barnabe.oyarzabal@courriel.example",
        "+33 7 55 44 33 21",
        "+33755443321",
        "1962-11-05",
        "1962-11-05",
    ),
    ("Thérèse N'Guessan", "t.nguessan@sante.example", "0033 6 48 27 19 63", "+33648271963", "29.02.1956", "1956-02-29"),
]


def surveys_tables() -> list[str]:
    return sorted(t for t in connection.introspection.table_names() if t.startswith("surveys_"))


def every_value_as_text() -> list[tuple[str, str, str]]:
    """(table, column, value) for every non-null cell of every surveys table."""
    cells = []
    with connection.cursor() as cursor:
        for table in surveys_tables():
            columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from introspection
            for row in cursor.fetchall():
                cells += [
                    (table, column, as_text(value))
                    for column, value in zip(columns, row, strict=True)
                    if value is not None
                ]
    return cells


def as_text(value) -> str:
    """The value as text; JSON written with \\u escapes (SQLite) is read back, so "Barnab\\u00e9"
    is seen as the name it spells."""
    text = str(value)
    if "\\u" in text:
        try:
            return json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            return text
    return text


def identity_strings() -> set[str]:
    forbidden = set()
    for name, email, phone, e164, born, iso in PEOPLE:
        forbidden |= {
            name,
            *name.split(),
            email.strip(),
            email.strip().lower(),
            phone,
            e164,
            e164[1:],
            "0" + e164[3:],
            born,
            iso,
        }
    return {f.lower() for f in forbidden if len(f) >= 5}


def leaks() -> list[tuple[str, str, str]]:
    forbidden = identity_strings()
    return [
        (table, column, word)
        for table, column, value in every_value_as_text()
        for word in forbidden
        if word in value.lower()
    ]


def test_no_surveys_table_holds_a_name_email_phone_or_birth_date(make):
    version = make.published_version()
    study = version.questionnaire.study
    study.link_check = "birth_year"  # the year is kept as a keyed digest only
    study.save()
    make.site(study=study, code="nord")
    make.timepoint(version=version, code="t0", offset=0)
    make.timepoint(version=version, code="t90", offset=90)
    start = timezone.now()
    enrollments = [
        enrollment_create(
            study=study,
            by=None,
            now=start,
            data=EnrolmentData(
                name=name,
                email=email,
                phone=phone,
                birth_date=born,
                site="nord",
                consent_method="written",
                preferred_channel="email" if i == 1 else "sms",
            ),
        )
        for i, (name, email, phone, _e164, born, _iso) in enumerate(PEOPLE)
    ]
    assignments_refresh(now=timezone.now())
    for enrollment in enrollments:
        first = enrollment.participant.assignments.get(timepoint__code="t0")
        assignment_link_token(assignment=first)
        # Patients type free text too; here, nothing of who they are.
        response_save_page(
            assignment=first, answers={"mood": "a2", "why": "tired all week", "pain": 4}, page_index=0, advance=True
        )
        response_submit(assignment=first)
    enrollment_withdraw(enrollment=enrollments[0], by_patient=True, delete_data=True, now=timezone.now())
    enrollment_withdraw(
        enrollment=enrollments[1], by_user=make.user(), delete_data=False, now=timezone.now(), reason="moved away"
    )

    tables = surveys_tables()
    assert {
        "surveys_participant",
        "surveys_historicalparticipant",
        "surveys_response",
        "surveys_historicalresponse",
        "surveys_assignment",
    } <= set(tables)
    assert len(every_value_as_text()) > 100  # the scan really read the data
    assert leaks() == []


def test_the_scan_finds_an_identity_wherever_it_hides(make):
    # The guard above is only worth something if it can fail: plant values in JSON and history.
    token, assignment = make.open_link()
    response_save_page(
        assignment=assignment, answers={"mood": "a2", "why": "ask Barnabé, 0755443321"}, page_index=0, advance=False
    )
    found = {(table, word) for table, _column, word in leaks()}
    assert {("surveys_response", "barnabé"), ("surveys_historicalresponse", "0755443321")} <= found
