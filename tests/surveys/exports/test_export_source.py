"""Research exports say where each response's answers come from: patient, imported or corrected."""

from __future__ import annotations

from surveys.exports.spec import ExportSpec
from surveys.models import Response
from tests.surveys.exports.test_exports_formats import build_study, read_csv, write


def test_every_csv_row_carries_the_source_of_its_response(make):
    study, _q, _version, responses = build_study(make, participants=2)
    Response.objects.filter(pk=responses[1].pk).update(source=Response.Source.CORRECTED)
    for fmt in ("long_csv", "wide_csv"):
        rows = read_csv(write(ExportSpec(study_id=study.pk, format=fmt))[0])
        by_pseudonym = {r["pseudonym"]: r["source"] for r in rows}
        assert by_pseudonym == {"EXP-0000": "patient", "EXP-0001": "corrected"}, fmt
