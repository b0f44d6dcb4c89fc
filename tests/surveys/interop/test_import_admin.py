"""Import pages in the admin: upload, preview, confirm; who may; imported drafts; version exports."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signing import b64_decode
from django.urls import reverse

from surveys.interop.fhir.questionnaire_export import questionnaire_export
from surveys.models import Questionnaire, Response
from surveys.questionnaires.publish import questionnaire_publish
from tests.surveys.interop.test_fhir_questionnaire import imported, public, rich
from tests.surveys.interop.test_fhir_response import legacy, ndjson

IMPORT = "admin:surveys_questionnaire_import"
RESPONSES = "admin:surveys_response_import"


def member(make, client, study, role: str):
    user = make.user()
    make.member(user=user, study=study, role=role)
    client.force_login(user)
    return user


def upload(content: bytes | dict, name: str = "q.json") -> SimpleUploadedFile:
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    return SimpleUploadedFile(name, data, content_type="application/json")


def check(client, study, content, **fields):
    return client.post(
        reverse(IMPORT), {"action": "check", "study": study.pk, "format": "fhir", "file": upload(content), **fields}
    )


def test_designer_previews_then_imports_and_lands_on_the_draft(make, client):
    study = make.study(languages=["en", "fr"], fallback_language="en")
    member(make, client, study, "designer")
    assert client.get(reverse(IMPORT)).status_code == 200
    preview = check(client, study, rich())
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "wellbeingcheck" in page and "Well-being check" in page and "readOnly" in page
    assert not Questionnaire.objects.filter(study=study).exists()  # nothing before confirming
    token = preview.context["token"]
    done = client.post(reverse(IMPORT), {"action": "import", "token": token})
    q = Questionnaire.objects.get(study=study)
    assert done.status_code == 302 and done["Location"] == reverse("admin:surveys_questionnaire_change", args=[q.pk])
    assert q.source_format == "fhir" and q.source_definition["derivedFrom"] == [rich()["url"]]
    change = client.get(done["Location"])
    html = change.content.decode()
    assert "the items come from the imported definition" in html
    assert reverse("admin:surveys_questionnaire_copy_into_rows", args=[q.pk]) in html
    assert not change.context["inline_admin_formsets"]
    frame = client.get(reverse("admin:surveys_questionnaire_preview_frame", args=[q.pk]) + "?lang=fr")
    assert "Votre humeur ?" in frame.content.decode()


def test_code_and_language_can_be_chosen_on_the_form(make, client):
    study = make.study()
    member(make, client, study, "designer")
    definition = rich()
    del definition["language"]
    preview = check(client, study, definition, code="wb", language="en")
    client.post(reverse(IMPORT), {"action": "import", "token": preview.context["token"]})
    q = Questionnaire.objects.get(study=study)
    assert q.code == "wb" and q.source_definition["language"] == "en"


def test_a_changed_or_forged_token_imports_nothing(make, client):
    study = make.study()
    member(make, client, study, "designer")
    token = check(client, study, rich()).context["token"]
    assert client.post(reverse(IMPORT), {"action": "import", "token": token[:-3] + "abc"}).status_code == 400
    assert client.post(reverse(IMPORT), {"action": "import", "token": "forged"}).status_code == 400
    # Another designer cannot replay someone else's checked file either.
    member(make, client, study, "designer")
    refused = client.post(reverse(IMPORT), {"action": "import", "token": token})
    assert refused.status_code == 400 and "could not be read back" in refused.content.decode()
    assert not Questionnaire.objects.filter(study=study).exists()


def test_token_carries_the_checked_bytes_and_is_bound_to_the_study(make, client):
    study, other = make.study(), make.study()
    member(make, client, study, "designer")
    token = check(client, study, rich()).context["token"]
    assert b"Questionnaire" not in b64_decode(token.split(":")[0].lstrip(".").encode())  # compressed, not readable
    # The study a designer no longer designs for is refused at confirmation.
    other_token = check(client, other, rich())
    assert other_token.status_code == 400  # not one of the user's studies: the form refuses it
    assert "token" not in other_token.context


@pytest.mark.parametrize(
    "content, shown",
    [
        (b'{"resourceType": "Questionnaire",\n "status": }', "line 2, column 12"),
        (b'{"resourceType": "Patient"}', "is Patient; a Questionnaire or a Bundle"),
        (
            json.dumps(
                {
                    "resourceType": "Questionnaire",
                    "status": "active",
                    "item": [{"linkId": "scan", "type": "attachment", "text": "Upload"}],
                }
            ).encode(),
            "item scan",
        ),
    ],
)
def test_bad_files_show_their_problems_and_import_nothing(make, client, content, shown):
    study = make.study()
    member(make, client, study, "designer")
    response = check(client, study, content)
    assert response.status_code == 400
    assert shown in response.content.decode() and "token" not in response.context
    assert not Questionnaire.objects.filter(study=study).exists()


def test_reviewer_and_data_manager_cannot_import_questionnaires(make, client):
    study = make.study()
    member(make, client, study, "reviewer")
    assert client.get(reverse(IMPORT)).status_code == 403
    assert check(client, study, rich()).status_code == 403
    changelist = client.get(reverse("admin:surveys_questionnaire_changelist")).content.decode()
    assert reverse(IMPORT) not in changelist and reverse(RESPONSES) not in changelist
    member(make, client, study, "data_manager")
    assert client.get(reverse(IMPORT)).status_code == 403
    assert not Questionnaire.objects.filter(study=study).exists()


def test_changelist_links_the_import_pages_for_designers(make, client):
    study = make.study()
    member(make, client, study, "designer")
    html = client.get(reverse("admin:surveys_questionnaire_changelist")).content.decode()
    assert reverse(IMPORT) in html and reverse(RESPONSES) not in html
    try:
        library = reverse("admin:surveys_library")
    except Exception:  # noqa: BLE001 - built elsewhere; linked once it exists
        library = None
    if library:
        assert library in html


def test_all_public_fixtures_import_through_the_page(make, client):
    study = make.study(languages=["en"], fallback_language="en")
    member(make, client, study, "designer")
    preview = check(client, study, public("phq9.json"))
    # Its warnings are shown before importing: the FHIRPath variable names renamed to R4 names.
    assert "q1_value" in preview.content.decode() and "q1value" in preview.content.decode()
    client.post(reverse(IMPORT), {"action": "import", "token": preview.context["token"]})
    assert Questionnaire.objects.filter(study=study, code="phq-9-quick-depression-assessment-panel").exists()


# --- responses ---------------------------------------------------------------------------------------------


@pytest.fixture
def scored(make):
    study = make.study(code="wb-study", languages=["en", "fr"], fallback_language="en")
    version = questionnaire_publish(questionnaire=imported(study, rich()), by=None)
    timepoint = make.timepoint(version=version, code="baseline")
    make.participant(study=study, pseudonym="ST01-AAAAA")
    return study, timepoint


def test_data_manager_previews_counts_then_imports_responses(make, client, scored):
    study, timepoint = scored
    member(make, client, study, "data_manager")
    assert client.get(reverse(RESPONSES)).status_code == 200
    preview = client.post(
        reverse(RESPONSES), {"action": "check", "timepoint": timepoint.pk, "file": upload(ndjson(legacy()), "r.ndjson")}
    )
    assert preview.status_code == 200 and preview.context["result"].created == 1
    assert "1 to import" in preview.content.decode() and not Response.objects.exists()
    done = client.post(reverse(RESPONSES), {"action": "import", "token": preview.context["token"]})
    assert done.status_code == 302 and Response.objects.count() == 1
    assert "1 responses imported" in [str(m) for m in get_messages(done.wsgi_request)][0]
    # The same file again: nothing new, nothing to confirm.
    again = client.post(
        reverse(RESPONSES), {"action": "check", "timepoint": timepoint.pk, "file": upload(ndjson(legacy()), "r.ndjson")}
    )
    assert again.context["result"].unchanged == 1 and "token" not in again.context


def test_responses_with_problems_are_listed_and_not_imported(make, client, scored):
    study, timepoint = scored
    member(make, client, study, "data_manager")
    bad = client.post(
        reverse(RESPONSES),
        {
            "action": "check",
            "timepoint": timepoint.pk,
            "file": upload(ndjson(legacy(), legacy("ST01-NOBODY")), "r.ndjson"),
        },
    )
    assert bad.status_code == 400 and "line 2" in bad.content.decode() and "ST01-NOBODY" in bad.content.decode()
    assert "token" not in bad.context and not Response.objects.exists()


def test_designers_and_reviewers_cannot_import_responses(make, client, scored):
    study, timepoint = scored
    for role in ("designer", "reviewer", "investigator"):
        member(make, client, study, role)
        assert client.get(reverse(RESPONSES)).status_code == 403
        assert (
            client.post(
                reverse(RESPONSES), {"action": "check", "timepoint": timepoint.pk, "file": upload(ndjson(legacy()))}
            ).status_code
            == 403
        )
    assert not Response.objects.exists()


# --- imported drafts and exports ----------------------------------------------------------------------------


def test_copy_into_rows_lists_losses_or_copies(make, client):
    study = make.study()
    member(make, client, study, "designer")
    rich_draft = imported(study, rich())
    url = reverse("admin:surveys_questionnaire_copy_into_rows", args=[rich_draft.pk])
    page = client.get(url)
    assert "a group inside a group" in page.content.decode()
    assert client.post(url).status_code == 400
    rich_draft.refresh_from_db()
    assert rich_draft.source_definition is not None

    simple = imported(
        study,
        {
            "resourceType": "Questionnaire",
            "status": "active",
            "name": "simple",
            "title": "Simple",
            "language": "fr",
            "item": [
                {
                    "linkId": "p1",
                    "type": "group",
                    "text": "Page",
                    "item": [{"linkId": "q1", "type": "boolean", "text": "Oui ou non ?", "required": True}],
                }
            ],
        },
    )
    url = reverse("admin:surveys_questionnaire_copy_into_rows", args=[simple.pk])
    done = client.post(url)
    assert done.status_code == 302
    simple.refresh_from_db()
    assert simple.source_definition is None and simple.items.get().link_id == "q1"
    assert client.get(reverse("admin:surveys_questionnaire_change", args=[simple.pk])).context["inline_admin_formsets"]


def test_reviewer_cannot_copy_into_rows(make, client):
    study = make.study()
    q = imported(study, rich())
    member(make, client, study, "reviewer")
    assert client.post(reverse("admin:surveys_questionnaire_copy_into_rows", args=[q.pk])).status_code == 403


def test_version_page_offers_exports_and_the_fhir_file_is_valid(make, client):
    version = make.published_version()
    member(make, client, version.questionnaire.study, "reviewer")
    page = client.get(reverse("admin:surveys_questionnaireversion_change", args=[version.pk])).content.decode()
    url = reverse("admin:surveys_questionnaireversion_export", args=[version.pk, "fhir"])
    assert url in page
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/fhir+json")
    assert "attachment" in response["Content-Disposition"]
    assert json.loads(response.content) == questionnaire_export(version)
    assert (
        client.get(reverse("admin:surveys_questionnaireversion_export", args=[version.pk, "nope"])).status_code == 404
    )


def test_versions_of_other_studies_cannot_be_exported(make, client):
    version = make.published_version()
    member(make, client, make.study(), "designer")
    assert (
        client.get(reverse("admin:surveys_questionnaireversion_export", args=[version.pk, "fhir"])).status_code == 404
    )


def test_redcap_dictionaries_go_through_the_same_page_and_command(make, client, tmp_path):
    from django.core.management import call_command

    from tests.conftest import need_service
    from tests.surveys.interop.test_fhir_questionnaire import FIXTURES

    path = FIXTURES / "redcap" / "simple-dictionary.csv"
    need_service("public fixtures", path.exists(), f"{path} is absent (set RESSENTI_PUBLIC_FIXTURES)")
    study = make.study()
    member(make, client, study, "designer")
    preview = client.post(
        reverse(IMPORT),
        {
            "action": "check",
            "study": study.pk,
            "format": "redcap",
            "file": SimpleUploadedFile("d.csv", path.read_bytes(), "text/csv"),
        },
    )
    assert preview.status_code == 200, preview.context["problems"]
    client.post(reverse(IMPORT), {"action": "import", "token": preview.context["token"]})
    assert Questionnaire.objects.filter(study=study, source_format="redcap").exists()
    other = make.study()
    call_command("import_questionnaire", other.code, str(path), "--format", "redcap", "--dry-run")
    assert not Questionnaire.objects.filter(study=other).exists()


def test_a_file_too_large_for_the_confirm_step_points_to_the_command(make, client):
    # The confirm step posts the file back in a signed field, under Django's request body limit.
    from surveys.admin.imports import MAX_UPLOAD_BYTES

    study = make.study(languages=["en"], fallback_language="en")
    member(make, client, study, "designer")
    big = {**rich(), "description": "x" * MAX_UPLOAD_BYTES}
    page = check(client, study, big)
    assert page.status_code == 400
    assert "import it with the management command" in page.content.decode()
    assert not Questionnaire.objects.filter(study=study).exists()
