"""Questionnaires written by other projects render and behave (../shared/fixtures, see SOURCES.md)."""

import json

from django.test import RequestFactory

from surveys.answering import rendering
from surveys.questionnaires import conditions
from tests.conftest import need_service
from tests.paths import PUBLIC_FIXTURES

FIXTURES = PUBLIC_FIXTURES


def load(name: str) -> dict:
    path = FIXTURES / name
    need_service("public fixtures", path.exists(), f"{path} is absent (set RESSENTI_PUBLIC_FIXTURES)")
    return json.loads(path.read_text())


def test_lforms_enable_when_operators_match_the_fixture_intent():
    definition = load("fhir/enablewhen-basic.json")
    shown = conditions.enabled_ids
    # 4.2 only for diabetes; 4.3 only for another diagnosis.
    assert {"4.2"} <= shown(definition, {"4.1": "Diabetes"}) and "4.3" not in shown(definition, {"4.1": "Diabetes"})
    other = shown(definition, {"4.1": "Other"})
    assert "4.3" in other and "4.2" not in other
    # 4.4 when 4.3 exists, 4.5 when it does not.
    assert "4.5" in other and "4.4" not in other
    answered = shown(definition, {"4.1": "Other", "4.3": "asthma"})
    assert "4.4" in answered and "4.5" not in answered
    # An answer to a question that is hidden does not count: 4.3 is hidden for diabetes.
    assert "4.4" not in shown(definition, {"4.1": "Diabetes", "4.3": "stale"})


def test_lforms_phq9_renders_through_the_patient_template(db):
    definition = load("fhir/phq9.json")
    pages = rendering.build_pages(definition, "en")
    texts = [node.get("text", "") for page in pages for node in page.nodes]
    assert any("Little interest or pleasure" in t for t in texts)
    response = rendering.render_preview(RequestFactory().get("/"), definition=definition, language="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Little interest or pleasure in doing things?" in html
    assert html.count('type="radio"') >= 9 * 4  # nine scored items with four options each
    assert "Not at all" in html and "Nearly every day" in html
