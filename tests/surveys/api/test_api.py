"""The REST API: tokens, per-study and per-site scoping, every resource, filters, pages, errors, rate."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from surveys.api.tokens import api_token_create, api_token_revoke
from surveys.interop.fhir.questionnaire_export import questionnaire_export
from surveys.interop.fhir.response_export import response_export
from surveys.models import ApiToken
from tests.api_world import world_build


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    # Throttling has its own test; the others make many calls with one token.
    settings.API_THROTTLE_RATE = ""


@pytest.fixture
def world(db):
    return world_build()


def call(client, url, token=None, method="get", **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = getattr(client, method)(url, params, **headers)
    return response


def data(response) -> dict:
    assert response["Content-Type"].split(";")[0] in ("application/json", "application/fhir+json"), response.content
    return json.loads(response.content)


def results(client, url, token, **params) -> list[dict]:
    response = call(client, url, token, **params)
    assert response.status_code == 200, response.content
    return data(response)["results"]


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = data(response)
    assert body["status"] == status and body["detail"], body
    if code:
        assert body["code"] == code, body
    return body


# --- authentication and tokens -------------------------------------------------------------------


def test_no_token_is_401_with_a_bearer_challenge(client, world):
    response = call(client, "/api/studies/")
    body = assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "detail" in body


@pytest.mark.parametrize("header", ["Bearer rst_unknown", "Bearer", "Bearer a b", "Token nope", "Bearer é"])
def test_bad_tokens_are_401(client, world, header):
    response = client.get("/api/studies/", HTTP_AUTHORIZATION=header)
    assert_error(response, 401)


def test_only_the_hash_of_a_token_is_stored(world):
    raw = world.tokens["dm"]
    assert raw.startswith("rst_") and len(raw) >= 40
    for row in ApiToken.objects.values():
        assert raw not in json.dumps(row, default=str)
    assert ApiToken.objects.filter(prefix=raw[:12]).count() == 1


def test_revoked_token_is_refused_at_once(client, world):
    raw = world.tokens["dm"]
    assert call(client, "/api/studies/", raw).status_code == 200
    token = ApiToken.objects.get(user=world.users["dm"])
    assert api_token_revoke(token=token) is True
    assert api_token_revoke(token=token) is False
    assert_error(call(client, "/api/studies/", raw), 401, "authentication_failed")


def test_expired_token_and_disabled_account_are_refused(client, world):
    user = world.users["dm"]
    token, raw = api_token_create(user=user, label="short", expires_at=timezone.now() + timedelta(minutes=1))
    assert call(client, "/api/studies/", raw).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(call(client, "/api/studies/", raw), 401)
    user.is_active = False
    user.save()
    assert_error(call(client, "/api/studies/", world.tokens["dm"]), 401)


def test_token_use_is_recorded(client, world):
    assert ApiToken.objects.get(user=world.users["dm"]).last_used_at is None
    call(client, "/api/studies/", world.tokens["dm"])
    assert ApiToken.objects.get(user=world.users["dm"]).last_used_at is not None


def test_a_removed_membership_removes_access_for_existing_tokens(client, world):
    raw = world.tokens["dm"]
    assert call(client, "/api/studies/alpha/participants/", raw).status_code == 200
    world.users["dm"].study_memberships.all().delete()
    assert_error(call(client, "/api/studies/alpha/participants/", raw), 404)
    assert results(client, "/api/studies/", raw) == []


def test_token_creation_refuses_studies_outside_ones_roles(world):
    from surveys.api.tokens import TokenRefused

    with pytest.raises(TokenRefused, match="beta"):
        api_token_create(user=world.users["dm"], label="x", studies=[world.beta])
    with pytest.raises(TokenRefused):
        api_token_create(user=world.users["dm"], label="  ")
    with pytest.raises(TokenRefused):
        api_token_create(user=world.users["dm"], label="x", expires_at=timezone.now() - timedelta(days=1))


# --- studies and scoping -------------------------------------------------------------------------


def test_studies_lists_the_studies_of_ones_roles_with_roles_sites_and_timepoints(client, world):
    rows = results(client, "/api/studies/", world.tokens["dm"])
    assert [r["code"] for r in rows] == ["alpha"]
    alpha = rows[0]
    assert alpha["roles"] == ["data_manager"]
    assert [s["code"] for s in alpha["sites"]] == ["north", "south"]
    assert [t["code"] for t in alpha["timepoints"]] == ["baseline", "m3"]
    assert alpha["timepoints"][0]["questionnaire"] == "mood" and alpha["timepoints"][0]["version"] == 1
    assert [r["code"] for r in results(client, "/api/studies/", world.tokens["both"])] == ["alpha", "beta"]
    assert [r["code"] for r in results(client, "/api/studies/", world.tokens["super"])] == ["alpha", "beta"]


def test_a_site_limited_member_sees_only_its_site(client, world):
    token = world.tokens["dm_north"]
    study = data(call(client, "/api/studies/alpha/", token))
    assert [s["code"] for s in study["sites"]] == ["north"]
    assert [p["pseudonym"] for p in results(client, "/api/studies/alpha/participants/", token)] == ["AL01-N0001"]
    assert {a["participant"] for a in results(client, "/api/studies/alpha/assignments/", token)} == {"AL01-N0001"}
    assert [r["participant"] for r in results(client, "/api/studies/alpha/responses/", token)] == ["AL01-N0001"]
    assert {r["participant"] for r in results(client, "/api/studies/alpha/scores/", token)} == {"AL01-N0001"}
    # The other site's objects do not exist for this member.
    assert_error(call(client, "/api/studies/alpha/participants/AL01-S0002/", token), 404, "not_found")
    assert_error(call(client, f"/api/studies/alpha/assignments/{world.a_south.pk}/", token), 404)
    assert_error(call(client, f"/api/studies/alpha/responses/{world.r_south.pk}/", token), 404)


def test_a_data_manager_of_one_study_sees_nothing_of_another(client, world):
    token = world.tokens["dm_beta"]
    for path in [
        "",
        "participants/",
        "assignments/",
        "responses/",
        "scores/",
        "versions/",
        "messages/",
        "participants/AL01-N0001/",
        f"assignments/{world.a_north.pk}/",
        f"responses/{world.r_north.pk}/",
        f"responses/{world.r_north.pk}/fhir/",
        "versions/mood/1/",
        "versions/mood/1/fhir/",
    ]:
        assert_error(call(client, f"/api/studies/alpha/{path}", token), 404, "not_found")
    # Nor through its own study's URLs with alpha's ids.
    assert_error(call(client, f"/api/studies/beta/responses/{world.r_north.pk}/", token), 404)
    assert_error(call(client, f"/api/studies/beta/assignments/{world.a_north.pk}/", token), 404)
    assert_error(call(client, "/api/studies/beta/participants/AL01-N0001/", token), 404)


def test_a_token_narrowed_to_a_study_reaches_only_that_study(client, world):
    token = world.tokens["both_beta_only"]
    assert [r["code"] for r in results(client, "/api/studies/", token)] == ["beta"]
    assert_error(call(client, "/api/studies/alpha/responses/", token), 404)
    assert len(results(client, "/api/studies/beta/responses/", token)) == 1


def test_a_role_without_the_permission_gets_403(client, world):
    token = world.tokens["designer"]
    assert data(call(client, "/api/studies/alpha/", token))["roles"] == ["designer"]
    assert len(results(client, "/api/studies/alpha/versions/", token)) == 1
    for path in ["participants/", "assignments/", "responses/", "scores/", "messages/"]:
        body = assert_error(call(client, f"/api/studies/alpha/{path}", token), 403, "permission_denied")
        assert "alpha" in body["detail"]


def test_unknown_study_is_404(client, world):
    assert_error(call(client, "/api/studies/nope/", world.tokens["super"]), 404)
    assert_error(call(client, "/api/studies/nope/responses/", world.tokens["super"]), 404)


# --- resources -----------------------------------------------------------------------------------


def test_versions_as_json_and_fhir(client, world):
    token = world.tokens["dm"]
    rows = results(client, "/api/studies/alpha/versions/", token)
    assert [(r["questionnaire"], r["number"]) for r in rows] == [("mood", 1)]
    assert "definition" not in rows[0] and len(rows[0]["content_hash"]) == 64
    detail = data(call(client, "/api/studies/alpha/versions/mood/1/", token))
    assert detail["definition"]["resourceType"] == "Questionnaire"
    assert {i["linkId"] for i in detail["definition"]["item"][0]["item"]} >= {"mood", "pain"}
    assert_error(call(client, "/api/studies/alpha/versions/mood/2/", token), 404)
    assert_error(call(client, "/api/studies/alpha/versions/", token, questionnaire="nope"), 404, "not_found")
    response = call(client, "/api/studies/alpha/versions/mood/1/fhir/", token)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/fhir+json")
    assert data(response) == json.loads(json.dumps(questionnaire_export(world.version), default=str))


def test_participants_show_pseudonym_site_status_language_and_dates_only(client, world):
    rows = results(client, "/api/studies/alpha/participants/", world.tokens["dm"])
    assert [r["pseudonym"] for r in rows] == ["AL01-N0001", "AL01-S0002"]
    assert set(rows[0]) == {"pseudonym", "site", "status", "language", "consented_at", "withdrawn_at", "created_at"}
    assert rows[0]["site"] == "north"
    assert [
        r["pseudonym"] for r in results(client, "/api/studies/alpha/participants/", world.tokens["dm"], site="south")
    ] == ["AL01-S0002"]
    detail = data(call(client, "/api/studies/alpha/participants/AL01-N0001/", world.tokens["dm"]))
    assert detail == rows[0]


def test_assignments_filter_by_timepoint_status_and_due_dates(client, world):
    token = world.tokens["dm"]
    url = "/api/studies/alpha/assignments/"
    assert len(results(client, url, token)) == 3
    assert {a["id"] for a in results(client, url, token, timepoint="m3")} == {world.a_north_m3.pk}
    assert {a["id"] for a in results(client, url, token, status="completed")} == {world.a_north.pk}
    soon = (timezone.now() + timedelta(days=1)).isoformat()
    assert {a["id"] for a in results(client, url, token, due_before=soon)} == {world.a_north.pk, world.a_south.pk}
    assert {a["id"] for a in results(client, url, token, due_after=soon)} == {world.a_north_m3.pk}
    detail = data(call(client, f"{url}{world.a_north.pk}/", token))
    assert detail["response"] == world.r_north.pk and detail["timepoint"] == "baseline"
    assert detail["participant"] == "AL01-N0001" and detail["status"] == "completed"


def test_responses_as_json_with_answers_and_scores(client, world):
    token = world.tokens["dm"]
    url = "/api/studies/alpha/responses/"
    rows = results(client, url, token)
    assert {r["id"] for r in rows} == {world.r_north.pk, world.r_south.pk}
    done = results(client, url, token, status="completed")
    assert len(done) == 1
    row = done[0]
    assert row["answers"] == {"mood": "a2", "why": "work", "pain": 7}
    assert row["scores"]["total"]["value"] == 9 and row["scores"]["total"]["band"] == "high"
    assert (row["participant"], row["timepoint"], row["questionnaire"], row["version"]) == (
        "AL01-N0001",
        "baseline",
        "mood",
        1,
    )
    # Instants in UTC, whatever the server's time zone.
    assert row["submitted_at"].endswith("Z") and row["due_at"].endswith("Z")
    # Any offset ISO 8601 allows, even those PostgreSQL refuses (beyond ±15:59).
    assert len(results(client, url, token, submitted_after="2000-01-01T00:00:00+21:28")) == 1
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    assert [r["id"] for r in results(client, url, token, submitted_after=since)] == [world.r_north.pk]
    assert results(client, url, token, submitted_before=since) == []
    assert [r["id"] for r in results(client, url, token, timepoint="baseline", participant="AL01-S0002")] == [
        world.r_south.pk
    ]
    assert data(call(client, f"{url}{world.r_north.pk}/", token)) == row


def test_response_as_fhir_questionnaire_response(client, world):
    response = call(client, f"/api/studies/alpha/responses/{world.r_north.pk}/fhir/", world.tokens["dm"])
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = data(response)
    assert body["resourceType"] == "QuestionnaireResponse"
    assert body == json.loads(json.dumps(response_export(world.r_north), default=str))


def test_scores_are_flat_rows(client, world):
    token = world.tokens["dm"]
    rows = results(client, "/api/studies/alpha/scores/", token)
    assert rows == [
        {
            "response": world.r_north.pk,
            "participant": "AL01-N0001",
            "site": "north",
            "timepoint": "baseline",
            "occurrence": 1,
            "questionnaire": "mood",
            "version": 1,
            "submitted_at": rows[0]["submitted_at"],
            "score": "total",
            "value": 9.0,
            "band": "high",
            "raw": 9.0,
            "answered": 2,
            "of": 2,
            "prorated": False,
            "reason": None,
        }
    ]
    assert results(client, "/api/studies/alpha/scores/", token, score="other") == []
    assert len(results(client, "/api/studies/alpha/scores/", token, score="total", timepoint="baseline")) == 1
    assert_error(call(client, "/api/studies/alpha/scores/", token, status="completed"), 400)


# --- pages and bad input -------------------------------------------------------------------------


def test_cursor_pages_cover_every_row_once(client, world, make):
    for i in range(7):
        make.participant(study=world.alpha, pseudonym=f"AL01-P{i:04d}", site=world.north)
    token = world.tokens["dm"]
    seen, url, pages = [], "/api/studies/alpha/participants/?page_size=3", 0
    while url:
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
        body = data(response)
        assert len(body["results"]) <= 3
        seen += [r["pseudonym"] for r in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3 and len(seen) == 9 == len(set(seen))


@pytest.mark.parametrize(
    "params, field",
    [
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": base64.b64encode(b"p=abc").decode()}, "cursor"),
        ({"cursor": base64.b64encode(b"p=" + b"9" * 30).decode()}, "cursor"),
        ({"cursor": base64.b64encode(b"o=-1").decode()}, "cursor"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "5000"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"colour": "blue"}, "colour"),
        ({"due_after": "yesterday"}, "due_after"),
        ({"due_after": "2026-02-30"}, "due_after"),
        ({"due_before": "0001-01-01T00:00:00+14:00"}, "due_before"),
        ({"status": "lost"}, "status"),
        ({"participant": "a\x00b"}, "participant"),
        ({"due_after": ""}, "due_after"),
        ({"status": ""}, "status"),
    ],
)
def test_bad_input_is_400_naming_the_parameter(client, world, params, field):
    response = call(client, "/api/studies/alpha/assignments/", world.tokens["dm"], **params)
    body = assert_error(response, 400, "invalid")
    assert field in body["errors"], body


@pytest.mark.parametrize(
    "params, field", [({"timepoint": "m99"}, "timepoint"), ({"questionnaire": "nope"}, "questionnaire")]
)
def test_a_code_naming_nothing_in_the_study_is_404_naming_the_parameter(client, world, params, field):
    response = call(client, "/api/studies/alpha/assignments/", world.tokens["dm"], **params)
    assert field in assert_error(response, 404, "not_found")["errors"]


def test_detail_views_refuse_query_parameters(client, world):
    response = call(client, f"/api/studies/alpha/responses/{world.r_north.pk}/", world.tokens["dm"], x="1")
    assert "x" in assert_error(response, 400, "invalid")["errors"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/nothing/",
        "/api/studies/alpha/responses/abc/",
        "/api/studies/alpha/responses/99999999999999999999999/",
        "/api/studies/a%00b/",
        "/api/studies/alpha/participants/a%20b/",
    ],
)
def test_unknown_paths_under_api_are_json_404(client, world, path):
    assert_error(call(client, path, world.tokens["dm"]), 404, "not_found")


def test_a_post_to_an_unknown_path_is_a_json_404_not_a_csrf_page(world):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/api/nothing/", HTTP_AUTHORIZATION=f"Bearer {world.tokens['dm']}")
    assert_error(response, 404, "not_found")


def test_unknown_ids_are_404(client, world):
    token = world.tokens["dm"]
    assert_error(call(client, "/api/studies/alpha/responses/999999999/", token), 404)
    assert_error(call(client, "/api/studies/alpha/participants/NOPE-0000/", token), 404)


def test_writes_are_refused_with_the_error_body(client, world):
    response = call(client, "/api/studies/alpha/responses/", world.tokens["dm"], method="post")
    assert_error(response, 405, "method_not_allowed")


# --- rate limit ----------------------------------------------------------------------------------


def test_over_the_rate_a_token_gets_429_with_retry_after(client, world, settings):
    settings.API_THROTTLE_RATE = "3/minute"
    token = world.tokens["dm"]
    for _ in range(3):
        assert call(client, "/api/studies/", token).status_code == 200
    response = call(client, "/api/studies/", token)
    body = assert_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    assert body["retry_after"] == int(response["Retry-After"])
    # Another token (another program) has its own budget.
    assert call(client, "/api/studies/", world.tokens["super"]).status_code == 200


# --- schema and docs -----------------------------------------------------------------------------


def test_the_openapi_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    # Raises CommandError (SchemaGenerationError) on any warning or validation error.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(out), stdout=StringIO(), stderr=StringIO()
    )
    text = out.read_text()
    for path in [
        "/api/studies/{study}/responses/{id}/fhir/",
        "/api/studies/{study}/scores/",
        "/api/studies/{study}/messages/",
        "/api/studies/{study}/versions/{questionnaire}/{number}/fhir/",
    ]:
        assert f"{path}:" in text


def test_schema_and_docs_are_served_with_local_assets_only(client, world):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["components"]["securitySchemes"]["token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["token"]["description"],
    }
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "https://" not in html and "<style" not in html
    assert "script-src 'self'" in page["Content-Security-Policy"]
    script_url = html.split('<script src="')[-1].split('"')[0].replace("&amp;", "&")
    script = client.get(script_url)
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


# --- scheduled messages --------------------------------------------------------------------------


@pytest.fixture
def messages(world, make):
    """Patients behind two participants of alpha, with the messages of their m3 and baseline assignments."""
    from patients.messaging.planning import messages_plan
    from patients.models import Message

    m3_south = make.assignment(
        participant=world.p_south, timepoint=world.m3, due_at=timezone.now() + timedelta(days=89)
    )
    north = make.enrollment(patient=make.patient(name="Jeanne Nord", phone="+33639980091"), participant=world.p_north)
    south = make.enrollment(
        patient=make.patient(name="Paul Sud", phone="+33639980092", email="paul.sud@example.org"),
        participant=world.p_south,
    )
    planned = messages_plan(enrollment=north, assignments=[world.a_north_m3])
    planned += messages_plan(enrollment=south, assignments=[m3_south])
    assert planned
    sent = planned[0]
    Message.objects.filter(pk=sent.pk).update(status=Message.Status.SENT, sent_at=timezone.now())
    return {
        "north": [m for m in planned if m.enrollment_id == north.pk],
        "south": [m for m in planned if m.enrollment_id == south.pk],
        "sent": sent,
    }


def test_messages_show_what_was_planned_and_sent_by_pseudonym(client, world, messages):
    token = world.tokens["dm"]
    rows = results(client, "/api/studies/alpha/messages/", token)
    assert len(rows) == len(messages["north"]) + len(messages["south"])
    assert set(rows[0]) == {
        "id",
        "participant",
        "site",
        "assignment",
        "timepoint",
        "occurrence",
        "kind",
        "sequence",
        "channel",
        "resend",
        "planned_at",
        "sent_at",
        "delivered_at",
        "status",
    }
    text = json.dumps(rows)
    for secret in ["Jeanne", "Nord", "Paul", "Sud", "paul.sud", "639980091", "639980092"]:
        assert secret not in text
    sent = data(call(client, f"/api/studies/alpha/messages/{messages['sent'].pk}/", token))
    assert sent["status"] == "sent" and sent["sent_at"].endswith("Z") and sent["timepoint"] == "m3"
    assert sent["kind"] == "invitation" and sent["sequence"] == 0
    assert [r["id"] for r in results(client, "/api/studies/alpha/messages/", token, status="sent")] == [
        messages["sent"].pk
    ]
    reminders = results(client, "/api/studies/alpha/messages/", token, kind="reminder")
    assert reminders and all(r["sequence"] >= 1 for r in reminders)
    assert {
        r["participant"] for r in results(client, "/api/studies/alpha/messages/", token, participant="AL01-S0002")
    } == {"AL01-S0002"}
    assert results(client, "/api/studies/alpha/messages/", token, timepoint="baseline") == []
    later = (timezone.now() + timedelta(days=200)).isoformat()
    assert results(client, "/api/studies/alpha/messages/", token, planned_after=later) == []
    assert_error(call(client, "/api/studies/alpha/messages/", token, channel="pigeon"), 400)


def test_messages_follow_site_scopes_and_roles(client, world, messages):
    north_only = results(client, "/api/studies/alpha/messages/", world.tokens["dm_north"])
    assert {r["participant"] for r in north_only} == {"AL01-N0001"}
    south_message = messages["south"][0].pk
    assert_error(call(client, f"/api/studies/alpha/messages/{south_message}/", world.tokens["dm_north"]), 404)
    assert_error(call(client, "/api/studies/alpha/messages/", world.tokens["designer"]), 403)
    assert_error(call(client, "/api/studies/alpha/messages/", world.tokens["dm_beta"]), 404)
    # Investigators read them too (pseudonyms only here, as for everyone).
    assert len(results(client, "/api/studies/alpha/messages/", world.tokens["investigator"])) == len(
        messages["north"]
    ) + len(messages["south"])


def test_list_queries_do_not_grow_with_the_rows(client, world, make, messages):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from patients.messaging.planning import messages_plan

    token = world.tokens["dm"]
    paths = ["participants/", "assignments/", "responses/", "scores/", "messages/", "versions/"]

    def counts() -> dict[str, int]:
        found = {}
        for path in paths:
            with CaptureQueriesContext(connection) as queries:
                assert call(client, f"/api/studies/alpha/{path}", token).status_code == 200
            found[path] = len(queries)
        return found

    call(client, "/api/studies/", token)  # records the token's use (a write, once a minute)
    before = counts()
    for i in range(8):
        p = make.participant(study=world.alpha, pseudonym=f"AL01-Q{i:04d}", site=world.south)
        a = make.assignment(participant=p, timepoint=world.baseline)
        make.response(
            assignment=a,
            status="completed",
            answers={"mood": "a1", "pain": 3},
            scores={"total": {"value": 4, "band": "low"}},
        )
        enrollment = make.enrollment(patient=make.patient(phone=f"+3363998{i:04d}"), participant=p)
        messages_plan(enrollment=enrollment, assignments=[a])
    assert counts() == before
