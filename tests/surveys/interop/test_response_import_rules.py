"""Legacy answers go only where the patient can no longer answer: table of assignment states."""

from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.interop.fhir.response_export import response_export
from surveys.models import Assignment, Response
from tests.surveys.interop.test_fhir_response import legacy, ndjson, run, setting  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "status, closed, accepted",
    [
        (None, None, True),  # no assignment: a new legacy one
        (Assignment.Status.EXPIRED, True, True),
        (Assignment.Status.OPEN, True, True),  # window closed, beat not run yet
        (Assignment.Status.PLANNED, False, False),
        (Assignment.Status.OPEN, False, False),
        (Assignment.Status.CANCELLED, True, False),
        (Assignment.Status.COMPLETED, True, False),
    ],
)
def test_import_only_into_assignments_the_patient_cannot_answer(setting, status, closed, accepted):  # noqa: F811
    if status is not None:
        now = timezone.now()
        due = now - timedelta(days=10) if closed else now - timedelta(hours=1)
        setting.make.assignment(
            participant=setting.participant,
            timepoint=setting.timepoint,
            status=status,
            due_at=due,
            expires_at=due + timedelta(days=3 if closed else 30),
        )
    result = run(setting, ndjson(legacy()))
    if accepted:
        assert result.ok and result.created == 1
        response = Response.objects.get(assignment__participant=setting.participant)
        assert response.source == Response.Source.IMPORTED
        assert response_export(response)["meta"]["tag"][0]["code"] == "imported"
    else:
        assert not result.ok and not Response.objects.exists()
        assert "line 1" in str(result.problems[0]) and status in str(result.problems[0])
