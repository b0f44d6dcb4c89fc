"""Exports through the API: start (POST a spec), poll, download; permission, site scope, bad specs."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.exports.jobs import export_job_run
from surveys.models import ExportJob
from tests import factories
from tests.api_world import world_build

URL = "/api/studies/alpha/exports/"


@pytest.fixture(autouse=True)
def no_rate_limit(settings, tmp_path):
    settings.API_THROTTLE_RATE = ""
    settings.EXPORTS_ROOT = str(tmp_path / "exports")


@pytest.fixture
def world(db):
    return world_build()


def post(client, token, body, url=URL):
    return client.post(
        url,
        data=json.dumps(body) if not isinstance(body, bytes) else body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def get(client, token, url):
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


def body_of(response) -> dict:
    return json.loads(response.content)


def test_start_poll_download(client, world):
    token = world.tokens["dm"]
    started = post(client, token, {"format": "wide_csv", "labels": True, "language": "en"})
    assert started.status_code == 202, started.content
    job = body_of(started)
    assert job["status"] == "pending" and job["download_url"] is None
    assert started["Location"] == job["url"] and job["url"].endswith(f"{URL}{job['id']}/")
    assert job["spec"]["format"] == "wide_csv" and job["spec"]["labels"] is True
    # Audited at once: who asked, what.
    row = ExportJob.objects.get(pk=job["id"])
    assert row.requested_by == world.users["dm"] and row.mode == ExportJob.Mode.ASYNC

    early = get(client, token, f"{URL}{job['id']}/download/")
    assert early.status_code == 409 and body_of(early)["code"] == "not_ready"

    assert export_job_run(job_id=job["id"]) == "done"
    polled = body_of(get(client, token, job["url"]))
    assert polled["status"] == "done" and polled["percent"] == 100 and polled["rows"] >= 1
    assert polled["download_url"].endswith(f"{URL}{job['id']}/download/")
    download = get(client, token, polled["download_url"])
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == polled["sha256"]
    assert download["X-Export-SHA256"] == hashlib.sha256(content).hexdigest()
    assert b"AL01-N0001" in content and b"AL01-S0002" in content
    assert ExportJob.objects.get(pk=job["id"]).downloads == 1
    listed = body_of(get(client, token, URL))["results"]
    assert [j["id"] for j in listed] == [job["id"]]


def test_a_site_limited_member_exports_its_site_only_and_cannot_widen_it(client, world):
    token = world.tokens["dm_north"]
    job = body_of(post(client, token, {"format": "long_csv"}))
    assert job["spec"]["sites"] == [world.north.pk]
    export_job_run(job_id=job["id"])
    content = b"".join(get(client, token, f"{URL}{job['id']}/download/").streaming_content)
    assert b"AL01-N0001" in content and b"AL01-S0002" not in content
    refused = post(client, token, {"format": "long_csv", "sites": None})
    assert refused.status_code == 400 and "sites" in body_of(refused)["errors"]


def test_jobs_are_their_requesters_only(client, world, make):
    job = body_of(post(client, world.tokens["dm"], {"format": "codebook_csv"}))
    export_job_run(job_id=job["id"])
    other = make.user(username="other_dm")
    from surveys.api.tokens import api_token_create

    factories.member(user=other, study=world.alpha, role="data_manager")
    other_token = api_token_create(user=other, label="x")[1]
    for path in ["", "download/"]:
        response = get(client, other_token, f"{URL}{job['id']}/{path}")
        assert response.status_code == 404 and body_of(response)["code"] == "not_found"
        assert get(client, world.tokens["dm_beta"], f"{URL}{job['id']}/{path}").status_code == 404
        assert get(client, world.tokens["dm_beta"], f"/api/studies/beta/exports/{job['id']}/{path}").status_code == 404
    assert body_of(get(client, other_token, URL))["results"] == []


def test_roles_without_the_export_permission_get_403(client, world):
    for role in ["designer", "investigator"]:
        response = post(client, world.tokens[role], {"format": "wide_csv"})
        assert response.status_code == 403 and body_of(response)["code"] == "permission_denied"
        assert get(client, world.tokens[role], URL).status_code == 403
    world.alpha.investigators_can_export = True
    world.alpha.save()
    assert post(client, world.tokens["investigator"], {"format": "wide_csv"}).status_code == 202


@pytest.mark.parametrize(
    "body, field",
    [
        ({"format": "pdf"}, "format"),
        ({}, "format"),
        ({"format": "wide_csv", "colour": "blue"}, "colour"),
        ({"format": "wide_csv", "study_id": 1}, "study_id"),
        ({"format": "fhir_ndjson", "dates": "days_since_enrolment"}, "dates"),
        ({"format": "wide_csv", "dates": "tomorrow"}, "dates"),
        ({"format": "wide_csv", "language": "de"}, "language"),
        ({"format": "wide_csv", "questionnaires": "mood"}, "questionnaires"),
        ({"format": "wide_csv", "labels": "maybe"}, "labels"),
        ({"format": "wide_csv", "completed_only": 1}, "completed_only"),
        (["wide_csv"], "non_field_errors"),
    ],
)
def test_bad_specs_are_400_naming_the_field(client, world, body, field):
    response = post(client, world.tokens["dm"], body)
    assert response.status_code == 400, response.content
    data = body_of(response)
    assert data["code"] == "invalid" and field in data["errors"], data
    assert not ExportJob.objects.exists()


def test_an_unknown_questionnaire_is_404_naming_the_field(client, world):
    response = post(client, world.tokens["dm"], {"format": "wide_csv", "questionnaires": ["nope"]})
    assert response.status_code == 404 and "questionnaires" in body_of(response)["errors"]
    assert not ExportJob.objects.exists()


def test_a_body_that_is_not_json_is_400(client, world):
    response = post(client, world.tokens["dm"], b"{format: wide")
    assert response.status_code == 400 and body_of(response)["code"] == "parse_error"
    response = client.post(
        URL,
        data="format=wide_csv",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {world.tokens['dm']}",
    )
    assert response.status_code == 415 and body_of(response)["code"] == "unsupported_media_type"


def test_an_expired_file_is_410_and_a_failed_job_409(client, world):
    token = world.tokens["dm"]
    job = body_of(post(client, token, {"format": "wide_csv"}))
    export_job_run(job_id=job["id"])
    ExportJob.objects.filter(pk=job["id"]).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert body_of(get(client, token, job["url"]))["status"] == "expired"
    response = get(client, token, f"{URL}{job['id']}/download/")
    assert response.status_code == 410 and body_of(response)["code"] == "expired"
    failed = body_of(post(client, token, {"format": "wide_csv"}))
    ExportJob.objects.filter(pk=failed["id"]).update(status=ExportJob.Status.FAILED, error="disk full")
    response = get(client, token, f"{URL}{failed['id']}/download/")
    assert response.status_code == 409 and body_of(response)["code"] == "failed"
    assert body_of(get(client, token, failed["url"]))["error"] == "disk full"
