"""No identity ever leaves through the API: every endpoint, every object, every export format.

On the demo (three fictional patients with names, emails and phones in patients/), with answered
questionnaires and planned messages, the test walks every resource as the demo data manager, the
demo investigator (who sees identities elsewhere, never here) and a superuser, downloads an export
of each format, and looks for any name, email or phone number of the demo patients in the bytes.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from patients import demo as patients_demo
from patients.models import Message
from surveys import demo as research_demo
from surveys.answering.submit import response_save_page, response_submit
from surveys.api.tokens import api_token_create
from surveys.exports.jobs import export_job_run
from surveys.exports.spec import FORMATS
from surveys.models import Assignment, Response


def _needles() -> list[str]:
    found = []
    for spec in patients_demo.PATIENTS:
        first, last = spec.name.split(" ", 1)
        national = "0" + spec.phone[3:]
        found += [
            spec.name,
            last,
            spec.email,
            spec.email.split("@")[0],
            spec.phone,
            spec.phone[1:],
            national,
            " ".join(re.findall("..", national)),
            ".".join(re.findall("..", national)),
        ]
        if first not in ("Emma",):  # a first name alone could be anything; the others are rare enough
            found.append(first)
    # Accents may be written as escapes in JSON, or dropped.
    found += [n.encode("ascii", "backslashreplace").decode() for n in found if not n.isascii()]
    found += ["Lefevre"]
    return found


def _unpacked(content: bytes) -> bytes:
    """Excel files are zip archives: their text is inside, compressed."""
    if content[:2] != b"PK":
        return content
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return b"\n".join(archive.read(name) for name in archive.namelist())


def _scan(label: str, content: bytes) -> None:
    text = _unpacked(content).decode("utf-8", errors="replace")
    lowered = text.lower()
    for needle in NEEDLES:
        assert needle.lower() not in lowered, f"{label} holds {needle!r}"


NEEDLES = _needles()


@pytest.fixture
def demo(db, settings, tmp_path):
    settings.API_THROTTLE_RATE = ""
    settings.EXPORTS_ROOT = str(tmp_path / "exports")
    loaded = patients_demo.demo_load()
    study = loaded.research.study
    baseline = Assignment.objects.filter(participant__study=study, timepoint__code="baseline")
    answers = {f"phq9_{n}": "a2" for n in range(1, 10)} | {
        "phq9_10": next(
            o["valueCoding"]["code"]
            for item in baseline[0].timepoint.version.definition["item"]
            for node in item.get("item", [])
            if node["linkId"] == "phq9_10"
            for o in node["answerOption"]
        )
    }
    for assignment in baseline[:2]:
        response_save_page(assignment=assignment, answers=answers, page_index=0, advance=True)
        response_submit(assignment=assignment)
    response_save_page(assignment=baseline[2], answers={"phq9_1": "a1"}, page_index=0, advance=False)
    assert Response.objects.filter(assignment__participant__study=study, status="completed").count() == 2
    assert Message.objects.filter(enrollment__participant__study=study).exists()
    return loaded


def _get(client, token: str, url: str):
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    content = b"".join(response.streaming_content) if response.streaming else response.content
    _scan(url, content)
    return content


def _all_rows(client, token: str, url: str) -> list[dict]:
    rows = []
    while url:
        page = json.loads(_get(client, token, url))
        rows += page["results"]
        url = page["next"]
    return rows


def test_no_endpoint_shows_a_name_an_email_or_a_phone(client, demo):
    study = research_demo.STUDY_CODE
    base = f"/api/studies/{study}/"
    tokens = {
        name: api_token_create(user=demo.research.users[name], label="scan")[1]
        for name in ("data_manager", "investigator", "admin")
    }
    fetched = 0
    for token in tokens.values():
        assert [s["code"] for s in _all_rows(client, token, "/api/studies/")] == [study]
        _get(client, token, base)
        _get(client, token, "/api/schema/")
        for version in _all_rows(client, token, base + "versions/"):
            path = f"{base}versions/{version['questionnaire']}/{version['number']}/"
            _get(client, token, path)
            _get(client, token, path + "fhir/")
        participants = _all_rows(client, token, base + "participants/")
        assert {p["pseudonym"] for p in participants} >= {"DEMO-0001", "DEMO-0002", "DEMO-0003"}
        for participant in participants:
            _get(client, token, f"{base}participants/{participant['pseudonym']}/")
        for assignment in _all_rows(client, token, base + "assignments/"):
            _get(client, token, f"{base}assignments/{assignment['id']}/")
        responses = _all_rows(client, token, base + "responses/")
        assert len(responses) == 3
        for response in responses:
            _get(client, token, f"{base}responses/{response['id']}/")
            _get(client, token, f"{base}responses/{response['id']}/fhir/")
        assert _all_rows(client, token, base + "scores/") is not None
        messages = _all_rows(client, token, base + "messages/")
        assert messages, "the demo plans messages"
        assert not {"phone", "email", "to", "text", "body", "provider_id", "last_error"} & set(messages[0])
        for message in messages:
            _get(client, token, f"{base}messages/{message['id']}/")
        fetched += 1
    assert fetched == 3


@pytest.mark.parametrize("format_", sorted(FORMATS))
def test_no_export_format_downloaded_through_the_api_holds_an_identity(client, demo, format_):
    token = api_token_create(user=demo.research.users["data_manager"], label="scan")[1]
    url = f"/api/studies/{research_demo.STUDY_CODE}/exports/"
    started = client.post(
        url,
        data=json.dumps({"format": format_, "labels": True}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert started.status_code == 202, started.content
    job = json.loads(started.content)
    assert export_job_run(job_id=job["id"]) == "done"
    done = json.loads(_get(client, token, job["url"]))
    content = _unpacked(_get(client, token, done["download_url"]))
    # The scan looked at the data itself: the pseudonyms are there (a codebook lists variables only).
    assert format_.startswith("codebook") or b"DEMO-0001" in content
