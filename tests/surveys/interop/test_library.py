"""The instrument library: data files that load and validate, one-click import, licences."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from surveys.interop import library
from surveys.interop.imports import ImportRefused
from surveys.models import Questionnaire
from surveys.questionnaires import fhir
from surveys.questionnaires.publish import PublishError, questionnaire_publish
from surveys.questionnaires.validation import definition_problems
from surveys.scoring import alerts, compute

FREE = ["gad7", "phq2", "phq9", "who5"]
LICENSED = ["eq5d5l", "ohs", "oks", "promis", "sf36"]
LANGUAGES = ["fr", "en"]


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- the data files ---------------------------------------------------------------------------


def test_every_instrument_file_loads_with_its_metadata():
    library._library.cache_clear()
    found = {i.code: i for i in library.instruments_list()}
    assert sorted(found) == sorted(FREE + LICENSED)
    for instrument in found.values():
        for lang in LANGUAGES:
            assert instrument.title[lang], (instrument.code, lang)
            assert instrument.licence[lang], (instrument.code, lang)
        assert instrument.version and instrument.licence_holder and instrument.publisher
        assert instrument.licence_url.startswith("https://")
        assert instrument.source, instrument.code
    assert [i.code for i in library.instruments_list() if i.free] == FREE
    assert all(found[code].licensed and found[code].item_count == 0 for code in LICENSED)
    assert found["phq9"].item_count == 10 and found["gad7"].item_count == 7
    assert found["phq2"].item_count == 2 and found["who5"].item_count == 5
    # The published sources of the shipped instruments.
    assert any("J Gen Intern Med. 2001" in s for s in found["phq9"].source)
    assert any("Arch Intern Med. 2006" in s for s in found["gad7"].source)
    assert any("Med Care. 2003" in s for s in found["phq2"].source)
    assert any("Psychother Psychosom. 2015" in s for s in found["who5"].source)
    assert "No permission required to reproduce, translate, display or distribute" in found["phq9"].licence["en"]
    assert "free to use" in found["who5"].licence["en"]


@pytest.mark.parametrize("code", FREE)
def test_free_instrument_validates_in_french_and_english(code):
    definition = library.instrument_definition(code)
    assert definition_problems(definition, languages=LANGUAGES) == []
    assert compute.scoring_problems(definition, languages=LANGUAGES) == []
    assert alerts.alert_problems(definition, languages=LANGUAGES) == []
    rules = fhir.rules_of(definition)
    assert [s["name"] for s in rules["scores"]] == ["total"]
    for band in rules["scores"][0]["bands"]:
        assert band["label"]["fr"] and band["label"]["en"]


def test_the_library_check_passes():
    assert library.library_check() == []


def test_phq9_carries_the_alerts_and_the_french_safety_message():
    definition = library.instrument_definition("phq9")
    codes = {a["code"]: a for a in fhir.rules_of(definition)["alerts"]}
    assert codes["phq9_item9"]["when"] == {"answer": "phq9_9", "operator": ">", "value": 0}
    assert codes["phq9_item9"]["safety_message"] is True
    assert codes["phq9_severe"]["when"] == {"score": "total", "operator": ">=", "value": 20}
    french, english = fhir.safety_message(definition, "fr"), fhir.safety_message(definition, "en")
    for text in (french, english):
        assert "3114" in text and "15" in text and "112" in text
    assert "prévention du suicide" in french and "French national suicide prevention line" in english
    # Same codes as the demo questionnaire, so the demo shares these rules.
    links = [n["linkId"] for n in fhir.iter_items(definition["item"]) if n["type"] == "choice"]
    assert links == [f"phq9_{n}" for n in range(1, 11)]
    assert [fhir.option_code(o) for o in definition["item"][0]["item"][0]["answerOption"]] == ["a0", "a1", "a2", "a3"]


def test_a_broken_file_fails_loading_and_names_the_file_and_the_fault():
    definition = library.instrument_definition("gad7")
    del definition["item"][0]["item"][2]["_text"]  # no English for item 3
    with pytest.raises(library.LibraryError, match=r"gad7\.json: .*gad7_3.*English"):
        library.instrument_from_definition("gad7", definition)

    definition = library.instrument_definition("who5")
    rules = fhir.rules_of(definition)
    rules["scores"][0]["items"].append("who5_9")  # an item that does not exist
    next(e for e in definition["extension"] if e["url"] == fhir.EXT_RULES)["valueString"] = json.dumps(rules)
    with pytest.raises(library.LibraryError, match=r"who5\.json: .*who5_9"):
        library.instrument_from_definition("who5", definition)

    definition = library.instrument_definition("sf36")
    definition["item"] = library.instrument_definition("phq2")["item"]
    with pytest.raises(library.LibraryError, match=r"sf36\.json: a licensed instrument is metadata only"):
        library.instrument_from_definition("sf36", definition)

    with pytest.raises(library.LibraryError, match=r"phq2\.json: the instrument extension"):
        library.instrument_from_definition("phq2", library.instrument_definition("phq9"))


# --- import into a study -----------------------------------------------------------------------


@pytest.mark.parametrize("code", FREE)
def test_free_instrument_imports_as_a_draft_and_publishes(make, code):
    study = make.study(code="lib-study")
    designer = make.user()
    questionnaire = library.instrument_import(study=study, code=code, by=designer)

    assert questionnaire.code == code and questionnaire.instrument == code
    assert questionnaire.source_format == "library"
    assert questionnaire.title_fr and questionnaire.title_en
    assert questionnaire.rules == fhir.rules_of(library.instrument_definition(code))
    version = questionnaire_publish(questionnaire=questionnaire, by=designer)

    definition = version.definition
    instrument = library.instrument_get(code)
    assert definition["version"] == "1"
    assert definition["url"] == f"urn:ressenti:questionnaire:lib-study:{code}"
    assert definition["derivedFrom"] == [f"urn:ressenti:instrument:{code}|{instrument.version}"]
    assert definition["copyright"] == library.instrument_definition(code)["copyright"]
    assert fhir.ext_value(definition, fhir.EXT_INSTRUMENT) == code
    assert fhir.rules_of(definition) == questionnaire.rules
    assert definition["item"] == library.instrument_definition(code)["item"]


def test_import_refuses_a_code_the_study_already_uses_and_writes_nothing(make):
    study = make.study()
    make.questionnaire(study=study, code="gad7")
    with pytest.raises(ImportRefused) as refused:
        library.instrument_import(study=study, code="gad7", by=None)
    assert [str(p) for p in refused.value.problems] == [
        "questionnaire gad7: the study already has a questionnaire with this code"
    ]
    assert study.questionnaires.count() == 1
    # Under another code it goes in.
    assert library.instrument_import(study=study, code="gad7", by=None, questionnaire_code="gad7_m3").code == "gad7_m3"


def test_import_refuses_licensed_and_unknown_instruments(make):
    study = make.study()
    with pytest.raises(ImportRefused, match="sf36: is licensed"):
        library.instrument_import(study=study, code="sf36", by=None)
    with pytest.raises(ImportRefused, match="nope: is not in the instrument library"):
        library.instrument_import(study=study, code="nope", by=None)
    assert not study.questionnaires.exists()


# --- licences ----------------------------------------------------------------------------------


def test_licence_problems_need_a_reference_for_licensed_instruments_only():
    def definition(instrument: str = "", reference: str = "") -> dict:
        exts = [{"url": fhir.EXT_INSTRUMENT, "valueCode": instrument}] if instrument else []
        if reference:
            exts.append({"url": fhir.EXT_LICENCE_REF, "valueString": reference})
        return {"resourceType": "Questionnaire", "extension": exts}

    assert library.licence_problems(definition()) == []
    assert library.licence_problems(definition("phq9")) == []
    for code in LICENSED:
        problems = library.licence_problems(definition(code))
        assert len(problems) == 1, code
        assert "licensed instrument" in problems[0].message and "licence reference" in problems[0].message
        assert library.instrument_get(code).licence_url in problems[0].message
        assert library.licence_problems(definition(code, "EQ-2026-0042")) == []
    assert library.licence_problems(definition("eq5d5l", "   ")) != []
    unknown = library.licence_problems(definition("phq10"))
    assert len(unknown) == 1 and "phq10 is not in the instrument library" in unknown[0].message


def test_a_licensed_instrument_defined_by_a_study_publishes_only_with_its_licence_reference(make):
    study = make.study()
    questionnaire = make.valid_questionnaire(study=study)
    questionnaire.instrument = "eq5d5l"
    questionnaire.save()
    with pytest.raises(PublishError) as refused:
        questionnaire_publish(questionnaire=questionnaire, by=None)
    assert [p.where for p in refused.value.problems] == ["library instrument"]
    assert "EuroQol Research Foundation" in refused.value.problems[0].message
    assert not questionnaire.versions.exists()

    questionnaire.licence_reference = "EuroQol registration 123456"
    questionnaire.save()
    version = questionnaire_publish(questionnaire=questionnaire, by=None)
    assert fhir.ext_value(version.definition, fhir.EXT_LICENCE_REF) == "EuroQol registration 123456"


# --- the admin page ----------------------------------------------------------------------------


@pytest.fixture
def staff(client, make):
    def login(role: str, *studies):
        user = make.user()
        for study in studies:
            make.member(user=user, study=study, role=role)
        client.force_login(user)
        return user

    return login


LIBRARY = "admin:surveys_library"


def test_designer_adds_an_instrument_to_a_study_in_one_click(client, make, staff):
    study, other = make.study(code="mine"), make.study(code="theirs")
    staff("designer", study)

    page = client.get(reverse(LIBRARY))
    assert page.status_code == 200
    body = page.content.decode()
    for code in FREE + LICENSED:
        assert f'id="instrument-{code}"' in body
    assert "EuroQol Research Foundation" in body and "Kroenke K" in body
    assert f'<option value="{study.pk}">mine</option>' in body and "theirs" not in body

    response = client.post(reverse(LIBRARY), {"instrument": "phq9", "study": study.pk})
    questionnaire = Questionnaire.objects.get(study=study, code="phq9")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:surveys_questionnaire_change", args=[questionnaire.pk])
    assert questionnaire.source_format == "library" and questionnaire.instrument == "phq9"
    assert messages_of(response) == [f"{questionnaire} added as a draft: check it, then publish it."]
    # The draft opens in the designer.
    assert client.get(response["Location"]).status_code == 200
    assert not other.questionnaires.exists()


def test_adding_an_instrument_twice_says_the_code_is_taken(client, make, staff):
    study = make.study(code="mine")
    staff("designer", study)
    client.get(client.post(reverse(LIBRARY), {"instrument": "who5", "study": study.pk})["Location"])
    response = client.post(reverse(LIBRARY), {"instrument": "who5", "study": study.pk})
    assert response.status_code == 302 and response["Location"] == reverse(LIBRARY)
    assert messages_of(response) == [
        "who5 was not added to study mine — questionnaire who5: the study already has a questionnaire with this code"
    ]
    assert study.questionnaires.filter(code="who5").count() == 1


def test_designer_cannot_add_to_a_study_where_they_do_not_design(client, make, staff):
    study, other = make.study(code="mine"), make.study(code="theirs")
    staff("designer", study)
    make.member(user=make.user(), study=other, role="designer")
    response = client.post(reverse(LIBRARY), {"instrument": "gad7", "study": other.pk})
    assert response.status_code == 302
    assert not other.questionnaires.exists()


def test_licensed_instruments_have_no_add_button_and_cannot_be_posted(client, make, staff):
    study = make.study(code="mine")
    staff("designer", study)
    body = client.get(reverse(LIBRARY)).content.decode()
    licensed_part = body.split('id="licensed-instruments"', 1)[1]
    assert "Add to study" not in licensed_part
    client.post(reverse(LIBRARY), {"instrument": "sf36", "study": study.pk})
    assert not study.questionnaires.exists()


@pytest.mark.parametrize("role", ["reviewer", "investigator", "data_manager"])
def test_other_roles_read_the_library_but_cannot_add(client, make, staff, role):
    study = make.study(code="mine")
    staff(role, study)
    page = client.get(reverse(LIBRARY))
    assert page.status_code == 200
    assert "Add to study" not in page.content.decode()
    response = client.post(reverse(LIBRARY), {"instrument": "phq9", "study": study.pk})
    assert response.status_code == 403
    assert not study.questionnaires.exists()


def test_library_page_needs_a_study_role(client, make, staff):
    staff("designer")  # staff, but in no study
    assert client.get(reverse(LIBRARY)).status_code == 403
    client.logout()
    response = client.get(reverse(LIBRARY))
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_the_post_needs_a_csrf_token(make):
    from django.test import Client

    study = make.study(code="mine")
    user = make.user()
    make.member(user=user, study=study, role="designer")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post(reverse(LIBRARY), {"instrument": "phq9", "study": study.pk})
    assert response.status_code == 403
    assert not study.questionnaires.exists()


# --- the demo shares the library's PHQ-9 rules -------------------------------------------------


def test_demo_phq9_scores_and_alerts_with_the_library_rules(db):
    from surveys import demo

    version = demo.demo_research_load().versions["phq9"]
    library_phq9 = library.instrument_definition("phq9")
    assert fhir.rules_of(version.definition) == fhir.rules_of(library_phq9)
    for lang in LANGUAGES:
        assert fhir.safety_message(version.definition, lang) == fhir.safety_message(library_phq9, lang)
    assert fhir.ext_value(version.definition, fhir.EXT_INSTRUMENT) == "phq9"
    given = {f"phq9_{n}": "a2" for n in range(1, 10)}
    assert compute.scores_compute(version.definition, given) == compute.scores_compute(library_phq9, given)
    # Loading again publishes nothing new.
    assert demo.demo_research_load().versions["phq9"].pk == version.pk


@pytest.mark.parametrize("code", FREE + LICENSED)
def test_library_files_are_valid_fhir_r4(code):
    from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire

    definition = library.instrument_definition(code)
    FhirQuestionnaire.model_validate(definition)


def test_import_instrument_command_lists_adds_and_refuses(make, capsys):
    from django.core.management import CommandError, call_command

    study = make.study(languages=["fr", "en"])
    call_command("import_instrument", study.code)
    listed = capsys.readouterr().out
    assert "gad7\tfree" in listed and "eq5d5l\tlicensed" in listed
    call_command("import_instrument", study.code, "gad7", "--code", "anxiete")
    assert study.questionnaires.get(code="anxiete").rules["scores"]
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_instrument", study.code, "gad7", "--code", "anxiete")
    assert "already has a questionnaire with this code" in capsys.readouterr().err
    with pytest.raises(CommandError, match="No study"):
        call_command("import_instrument", "nope", "gad7")
    assert study.questionnaires.count() == 1
