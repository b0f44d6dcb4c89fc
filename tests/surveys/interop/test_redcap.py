"""REDCap data dictionary import and export.

Our own small dictionaries cover every field type, branching form, matrix group and calculation;
the public ones (../shared/fixtures/redcap, never edited) show how real files fare.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import RequestFactory

from surveys.answering import rendering
from surveys.interop.imports import ImportRefused, exporter, import_parse, questionnaire_import
from surveys.interop.redcap.dictionary import COLUMNS, HEADER, KEYS
from surveys.interop.redcap.dictionary_export import dictionary_export
from surveys.interop.redcap.dictionary_import import dictionary_parse
from surveys.interop.redcap.fields import EXT_REDCAP, redcap_facts
from surveys.models import Questionnaire
from surveys.questionnaires import conditions, fhir
from surveys.questionnaires.publish import questionnaire_publish
from surveys.questionnaires.validation import definition_problems
from surveys.scoring import compute
from tests.conftest import need_service
from tests.paths import DATA, PUBLIC_FIXTURES

DATA = DATA / "redcap"
PUBLIC = PUBLIC_FIXTURES


def public(name: str) -> bytes:
    path = PUBLIC / "redcap" / name
    need_service("public fixtures", path.exists(), f"{path} is absent (set RESSENTI_PUBLIC_FIXTURES)")
    return path.read_bytes()


def dictionary(*rows: dict, header: list[str] | None = None, delimiter: str = ",") -> bytes:
    """A dictionary file from rows given by column key (name, form, ftype, label, choices, branching...)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header or HEADER)
    for row in rows:
        writer.writerow([row.get(key, "") for key in KEYS])
    return out.getvalue().encode()


def field(name: str, ftype: str = "text", form: str = "form_a", label: str = "", **kw) -> dict:
    return {"name": name, "form": form, "ftype": ftype, "label": label or f"Question {name}", **kw}


RECORD = field("record_id", label="Record ID")  # line 2 of every file built here
YESNO = field("smoker", "yesno")  # line 3


def parse(content: bytes, study) -> tuple[dict, list[str], list[str]]:
    """(definitions by code, problems, warnings) as text."""
    result = dictionary_parse(content, study=study)
    warnings = [str(w) for q in result.questionnaires for w in q.warnings]
    return {q.code: q.definition for q in result.questionnaires}, [str(p) for p in result.problems], warnings


def items(definition: dict) -> dict[str, dict]:
    return {node["linkId"]: node for node in fhir.iter_items(definition["item"])}


def kinds(definition: dict) -> dict[str, str]:
    return {link: fhir.item_type(node) for link, node in items(definition).items() if node["type"] != "group"}


def help_of(node: dict) -> str:
    return next((c["text"] for c in node.get("item", []) if fhir.item_control(c) == "help"), "")


def pages(definition: dict) -> list[tuple[str, list[str]]]:
    return [(page.title, [n["linkId"] for n in page.nodes]) for page in rendering.build_pages(definition, "fr")]


@pytest.fixture
def study(make):
    return make.study(languages=["fr"], fallback_language="fr")


@pytest.fixture
def every_type(study):
    definitions, problems, warnings = parse((DATA / "every-type.csv").read_bytes(), study)
    assert problems == []
    return definitions, warnings


# --- what each field becomes ---------------------------------------------------------------------


def test_every_field_type_becomes_our_item_type(every_type):
    definitions, _warnings = every_type
    assert list(definitions) == ["suivi", "humeur"]
    assert kinds(definitions["suivi"]) == {
        "consult_date": "date",
        "arrival": "time",
        "waiting": "integer",
        "temperature": "decimal",
        "seen_at": "datetime",
        "happy": "yes_no",
        "why_not": "long_text",
        "mode": "single",
        "mode_other": "short_text",
        "not_walking": "short_text",
        "clinic": "single",
        "again": "yes_no",
        "symptoms": "multiple",
        "symptom_other": "short_text",
        "no_fatigue": "display",
        "pain": "nrs",
        "tiredness": "vas",
        "early": "short_text",
        "long_wait": "long_text",
        "intro_phq": "display",
        "phq_1": "single",
        "phq_2": "single",
        "phq_help": "yes_no",
        "phq_low": "short_text",
    }
    assert kinds(definitions["humeur"]) == {"mood": "vas", "mood_note": "long_text"}


def test_field_details_are_kept(every_type):
    suivi = items(every_type[0]["suivi"])
    # Numeric codes are the option scores, as REDCap's calculations add raw codes.
    mode = suivi["mode"]["answerOption"]
    assert [(fhir.option_code(o), o["valueCoding"]["display"], fhir.ext_value(o, fhir.EXT_ORDINAL)) for o in mode] == [
        ("1", "À pied", 1),
        ("2", "En voiture", 2),
        ("3", "Autrement", 3),
    ]
    # Letter codes carry no score.
    assert [fhir.ext_value(o, fhir.EXT_ORDINAL) for o in suivi["clinic"]["answerOption"]] == [None, None]
    assert suivi["symptoms"]["repeats"] is True
    assert (fhir.ext_value(suivi["waiting"], fhir.EXT_MIN), fhir.ext_value(suivi["waiting"], fhir.EXT_MAX)) == (0, 600)
    assert (fhir.ext_value(suivi["temperature"], fhir.EXT_MIN), fhir.ext_value(suivi["temperature"], fhir.EXT_MAX)) == (
        35,
        42.5,
    )
    assert suivi["consult_date"]["required"] is True and "required" not in suivi["arrival"]
    assert help_of(suivi["waiting"]) == "En minutes"
    assert suivi["why_not"]["maxLength"] == 500  # @CHARLIMIT
    # Slider: 0..10 is a row of points, the REDCap default 0..100 a line; anchor labels become help.
    assert (fhir.ext_value(suivi["pain"], fhir.EXT_MIN), fhir.ext_value(suivi["pain"], fhir.EXT_MAX)) == (0, 10)
    assert help_of(suivi["pain"]) == "0 = Aucune · 5 = Moyenne · 10 = Maximale"
    assert (fhir.ext_value(suivi["tiredness"], fhir.EXT_MIN), fhir.ext_value(suivi["tiredness"], fhir.EXT_MAX)) == (
        0,
        100,
    )
    assert help_of(suivi["tiredness"]) == "Glissez le curseur\n0 = Pas du tout · 100 = Épuisé"
    # REDCap facts without a FHIR place ride in one extension, for the export.
    assert redcap_facts(suivi["clinic"]) == {"fieldType": "dropdown"}
    assert redcap_facts(suivi["again"]) == {"fieldType": "truefalse", "annotation": "@HIDDEN-PDF"}
    assert redcap_facts(suivi["consult_date"]) == {"validation": "date_dmy"}
    assert redcap_facts(suivi["mode"]) == {"customAlignment": "LH", "questionNumber": "4a"}
    assert redcap_facts(suivi["phq_1"]) == {"matrixGroup": "phq"} == redcap_facts(suivi["phq_2"])
    assert redcap_facts(suivi["happy"]) == {}


def test_section_headers_start_pages_and_matrix_rows_share_one(every_type):
    definitions, _warnings = every_type
    suivi = definitions["suivi"]
    assert [(g["linkId"], g["type"], fhir.item_control(g)) for g in suivi["item"]] == [
        ("page_1", "group", "page"),
        ("page_2", "group", "page"),
        ("page_3", "group", "page"),
    ]
    assert pages(suivi) == [
        (
            "Votre consultation",
            [
                "consult_date",
                "arrival",
                "waiting",
                "temperature",
                "seen_at",
                "happy",
                "why_not",
                "mode",
                "mode_other",
                "not_walking",
                "clinic",
                "again",
            ],
        ),
        ("Symptômes", ["symptoms", "symptom_other", "no_fatigue", "pain", "tiredness", "early", "long_wait"]),
        (
            "Au cours des deux dernières semaines, à quelle fréquence avez-vous été gêné par les problèmes suivants ?",
            ["intro_phq", "phq_1", "phq_2", "phq_help", "phq_low"],
        ),
    ]
    phq = items(suivi)
    assert phq["phq_1"]["answerOption"] == phq["phq_2"]["answerOption"]
    assert pages(definitions["humeur"]) == [("Humeur du jour", ["mood", "mood_note"])]


def test_branching_logic_becomes_display_conditions(every_type):
    suivi = items(every_type[0]["suivi"])

    def conditions(link_id):
        node = suivi[link_id]
        found = [
            (c["question"], c["operator"], next(v for k, v in c.items() if k.startswith("answer")))
            for c in node.get("enableWhen", [])
        ]
        return node.get("enableBehavior"), found

    # yesno codes 1/0 are our booleans
    assert conditions("why_not") == (None, [("happy", "=", False)])
    assert conditions("mode_other") == (None, [("mode", "=", {"code": "3"})])  # double quotes
    # <> is !=, <> '' is "is answered"; "and" is all
    assert conditions("not_walking") == ("all", [("mode", "!=", {"code": "1"}), ("mode", "exists", True)])
    # checkbox choices: (code) = '1' ticked, = '0' not ticked; "or" inside parentheses is any
    assert conditions("symptom_other") == (None, [("symptoms", "=", {"code": "99"})])
    assert conditions("no_fatigue") == (None, [("symptoms", "!=", {"code": "2"})])
    assert conditions("pain") == ("any", [("symptoms", "=", {"code": "1"}), ("symptoms", "=", {"code": "2"})])
    # numbers and dates keep their comparison
    assert conditions("early") == (
        "all",
        [("waiting", "<", 5), ("temperature", ">=", 37.5), ("consult_date", ">", "2024-01-01")],
    )
    assert conditions("long_wait") == (
        "any",
        [("waiting", ">", 30), ("waiting", "<=", 2), ("clinic", "!=", {"code": "a"})],
    )
    # >= on a choice list: the numeric codes that pass, any of them
    assert conditions("phq_help") == (
        "any",
        [("phq_1", "=", {"code": "2"}), ("phq_1", "=", {"code": "3"}), ("phq_2", "=", {"code": "3"})],
    )
    assert conditions("phq_low") == (None, [("phq_1", "=", {"code": "0"})])


def test_imported_conditions_show_and_hide_questions_on_patient_pages(every_type):
    suivi = every_type[0]["suivi"]
    shown = conditions.enabled_ids
    assert "why_not" in shown(suivi, {"happy": False}) and "why_not" not in shown(suivi, {"happy": True})
    assert {"pain", "no_fatigue"} <= shown(suivi, {"symptoms": ["1"]})
    tired = shown(suivi, {"symptoms": ["2", "99"]})
    assert {"pain", "symptom_other"} <= tired and "no_fatigue" not in tired
    assert "pain" not in shown(suivi, {"symptoms": ["99"]})
    assert "phq_help" in shown(suivi, {"phq_1": "2"}) and "phq_help" not in shown(suivi, {"phq_1": "1", "phq_2": "2"})
    assert "early" in shown(suivi, {"waiting": 3, "temperature": 38.0, "consult_date": "2025-02-01"})
    assert "early" not in shown(suivi, {"waiting": 3, "temperature": 38.0, "consult_date": "2023-02-01"})


def test_calc_sums_and_means_become_score_rules(every_type):
    definitions, warnings = every_type
    scores = {s["name"]: s for s in fhir.rules_of(definitions["suivi"])["scores"]}
    assert scores["phq_total"] == {
        "name": "phq_total",
        "label": {"fr": "Score PHQ-2"},
        "method": "sum",
        "items": ["phq_1", "phq_2"],
    }
    # REDCap's mean() averages what is answered: our mean, prorated from one answer on.
    assert scores["phq_mean"] == {
        "name": "phq_mean",
        "label": {"fr": "Moyenne PHQ-2"},
        "method": "mean",
        "items": ["phq_1", "phq_2"],
        "min_answered": 1,
        "missing": "prorate",
    }
    assert scores["phq_avg"] == {
        "name": "phq_avg",
        "label": {"fr": "Moyenne arrondie"},
        "method": "mean",
        "items": ["phq_1", "phq_2"],
        "round": 1,
    }
    # sum() skips blanks in REDCap; a missing answer is never 0 here, so every item is needed, and we say so.
    assert scores["phq_sum"]["items"] == ["phq_1", "phq_2", "happy"] and "min_answered" not in scores["phq_sum"]
    assert any("line 29, variable phq_sum: REDCap's sum() skips blank fields" in w for w in warnings)
    # A calc over another calc combines scores; a factor is a linear transform.
    assert scores["phq_scaled"] == {
        "name": "phq_scaled",
        "label": {"fr": "Total x 25"},
        "method": "sum",
        "scores": ["phq_total"],
        "transform": {"multiply": 25},
        "round": 0,
    }
    assert "phq_total" not in items(definitions["suivi"])  # a score, not a question


def test_imported_score_rules_compute_what_redcap_calculated(every_type):
    suivi = every_type[0]["suivi"]
    assert compute.scoring_problems(suivi, languages=["fr"]) == []

    def values(answers):
        return {name: score["value"] for name, score in compute.scores_compute(suivi, answers).items()}

    # Radio codes are the values REDCap adds; yes/no counts 1/0.
    assert values({"phq_1": "2", "phq_2": "3", "happy": True}) == {
        "phq_total": 5,
        "phq_mean": 2.5,
        "phq_avg": 2.5,
        "phq_sum": 6,
        "phq_scaled": 125,
    }
    # One answer missing: no sum (REDCap's "+" gives nothing either), mean() of what is answered.
    assert values({"phq_1": "2", "happy": False}) == {
        "phq_total": None,
        "phq_mean": 2,
        "phq_avg": None,
        "phq_sum": None,
        "phq_scaled": None,
    }


def test_identities_and_the_record_id_are_left_out_with_a_warning(every_type):
    definitions, warnings = every_type
    assert "record_id" not in items(definitions["suivi"]) and "nom_patient" not in items(definitions["suivi"])
    assert (
        "line 2, variable record_id: the record ID is left out: the participant's pseudonym plays its role" in warnings
    )
    assert (
        "line 3, variable nom_patient: marked as an identifier: left out, since identities are kept in the "
        "patient register, never in questionnaires"
    ) in warnings


def test_warnings_name_line_and_variable(every_type):
    warnings = every_type[1]
    expected = [
        "line 4, variable consult_date: the HTML formatting of the section header was removed",
        "line 15, variable again: the action tags @HIDDEN-PDF are kept with the field but not applied",
        "line 34, variable mood_note: the HTML formatting of the field note was removed",
    ]
    for text in expected:
        assert text in warnings
    # "Not ticked" and <> are != here, true on a blank field as in REDCap: nothing to warn about.
    quiet = ("no_fatigue", "not_walking", "long_wait")
    assert not [w for w in warnings if "holds only once" in w or any(f"variable {v}:" in w for v in quiet)]


def test_imported_definitions_pass_publish_validation_and_render(every_type):
    definitions, _warnings = every_type
    for definition in definitions.values():
        assert definition_problems(definition, languages=["fr"]) == []
        assert definition["language"] == "fr"
    response = rendering.render_preview(
        RequestFactory().get("/"), definition=definitions["suivi"], language="fr", page=2
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Symptômes ressentis" in html and "0 = Aucune · 5 = Moyenne · 10 = Maximale" in html


def test_imported_definitions_are_valid_fhir(every_type, study):
    from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire

    definitions = dict(every_type[0])
    definitions |= parse(public("survey-dictionary.csv"), study)[0]
    for definition in definitions.values():
        FhirQuestionnaire.model_validate(definition)


def test_html_is_removed_and_piping_is_reported(study):
    label = '<div class="rich-text-field-label"><p>Depuis le <b>[visit_date]</b>, avez-vous&nbsp;fumé ?</p></div>'
    definitions, problems, warnings = parse(dictionary(RECORD, YESNO, field("q2", "yesno", label=label)), study)
    assert problems == []
    assert items(definitions["form_a"])["q2"]["text"] == "Depuis le [visit_date], avez-vous fumé ?"
    assert "line 4, variable q2: the HTML formatting of the label was removed" in warnings
    assert (
        "line 4, variable q2: the label pipes another field's answer, which Ressenti does not do: it shows the "
        "brackets as written"
    ) in warnings


def test_a_two_language_study_is_told_to_add_translations(make):
    study = make.study(languages=["fr", "en"], fallback_language="fr")
    definitions, problems, warnings = parse(dictionary(RECORD, YESNO), study)
    assert problems == [] and definitions["form_a"]["language"] == "fr"
    assert (
        "form form_a: a REDCap dictionary holds one language: its texts are read as French; add the English "
        "translations before publishing"
    ) in warnings


def test_the_language_of_the_texts_can_be_given(make):
    study = make.study(languages=["fr", "en"], fallback_language="fr")
    result = import_parse(format_="redcap", content=dictionary(RECORD, YESNO), study=study, language="en")
    assert result.problems == []
    (found,) = result.questionnaires
    assert found.definition["language"] == "en"
    assert (
        "form form_a: a REDCap dictionary holds one language: its texts are read as English; add the French "
        "translations before publishing"
    ) in [str(w) for w in found.warnings]
    (questionnaire,) = questionnaire_import(study=study, result=result, format_="redcap", by=None)
    assert (questionnaire.title_en, questionnaire.title_fr) == ("Form a", "")
    french_only = make.study(languages=["fr"], fallback_language="fr")
    assert [str(p) for p in dictionary_parse(dictionary(RECORD, YESNO), study=french_only, language="en").problems] == [
        "language: the study is not in English"
    ]


# --- public fixtures ------------------------------------------------------------------------------


def test_public_simple_dictionary_imports(study):
    definitions, problems, warnings = parse(public("simple-dictionary.csv"), study)
    assert problems == []
    assert list(definitions) == ["demographics", "health", "race_and_ethnicity"]
    assert kinds(definitions["demographics"]) == {"age": "short_text", "sex": "single"}
    assert kinds(definitions["health"]) == {"height": "decimal", "weight": "integer", "comments": "long_text"}
    assert kinds(definitions["race_and_ethnicity"]) == {"race": "multiple", "ethnicity": "single"}
    # The header of identifiers left out still opens the page of the next field.
    assert pages(definitions["demographics"]) == [("Contact Information", ["age", "sex"])]
    assert pages(definitions["health"]) == [("", ["height", "weight"]), ("General Comments", ["comments"])]
    for line, name in enumerate(("name_first", "name_last", "address", "telephone", "email", "dob"), start=3):
        assert any(w.startswith(f"line {line}, variable {name}: marked as an identifier: left out") for w in warnings)
    assert (
        "line 2, variable record_id: the record ID is left out: the participant's pseudonym plays its role" in warnings
    )
    # BMI (a product and a power) and a photo upload have no equivalent: left out, named.
    assert any(
        w.startswith("line 13, variable bmi: the calculation round(([weight]*10000)/(([height])^(2)),1) is left out")
        for w in warnings
    )
    assert "line 15, variable mugshot: a file upload has no equivalent in Ressenti: left out" in warnings
    assert fhir.rules_of(definitions["health"]) == {}
    for definition in definitions.values():
        assert definition_problems(definition, languages=["fr"]) == []


def test_public_survey_dictionary_imports(study):
    definitions, problems, warnings = parse(public("survey-dictionary.csv"), study)
    assert problems == []
    assert list(definitions) == [
        "prescreening_survey",
        "participant_info_survey",
        "participant_morale_questionnaire",
        "completion_data",
    ]
    assert kinds(definitions["prescreening_survey"]) == {"has_diabetes": "yes_no", "consent": "multiple"}
    assert redcap_facts(items(definitions["prescreening_survey"])["has_diabetes"]) == {"fieldType": "truefalse"}
    assert kinds(definitions["participant_info_survey"]) == {
        "ethnicity": "single",
        "race": "single",
        "sex": "single",
        "height": "decimal",
        "weight": "integer",
    }
    assert kinds(definitions["participant_morale_questionnaire"]) == {
        "pmq1": "single",
        "pmq2": "single",
        "pmq3": "yes_no",
        "pmq4": "single",
    }
    assert kinds(definitions["completion_data"]) == {
        "complete_study": "yes_no",
        "withdraw_date": "date",
        "withdraw_reason": "single",
        "date_visit_4": "date",
        "discharge_date_4": "date",
        "discharge_summary_4": "single",
        "study_comments": "long_text",
    }
    assert "line 2, variable participant_id: the record ID is left out: the participant's pseudonym plays its role" in (
        warnings
    )
    # dob is not marked as an identifier in this file, but a birth date is one: left out all the same.
    assert any(
        w.startswith("line 3, variable dob: looks like an identity though not marked as an identifier")
        for w in warnings
    )
    for line, name in [(4, "email"), (7, "first_name"), (8, "last_name"), (9, "address"), (10, "telephone_1")]:
        assert any(w.startswith(f"line {line}, variable {name}: marked as an identifier: left out") for w in warnings)
    assert pages(definitions["prescreening_survey"]) == [
        ("Please fill out the information below.", ["has_diabetes", "consent"])
    ]
    for definition in definitions.values():
        assert definition_problems(definition, languages=["fr"]) == []


def test_public_fixtures_import_through_the_service(study):
    before = Questionnaire.objects.count()
    for name in ("simple-dictionary.csv", "survey-dictionary.csv"):
        result = import_parse(format_="redcap", content=public(name), study=study)
        created = questionnaire_import(study=study, result=result, format_="redcap", by=None)
        for questionnaire in created:
            assert questionnaire.source_format == "redcap"
            questionnaire_publish(questionnaire=questionnaire, by=None)
    assert Questionnaire.objects.count() == before + 7


# --- problems: reported by line and variable, nothing written ---------------------------------------------


PROBLEMS = [
    ("unknown type", [field("q1", "radoi")], "line 3, variable q1: unknown field type radoi"),
    (
        "function in branching",
        [YESNO, field("q2", branching="datediff([smoker], 'today', 'y') > 1")],
        "line 4, variable q2: branching logic datediff([smoker], 'today', 'y') > 1 cannot be translated: the function "
        "datediff() has no equivalent",
    ),
    (
        "and with or",
        [YESNO, field("q2", "yesno"), field("q3", branching="[smoker] = '1' and ([q2] = '1' or [q2] = '0')")],
        "line 5, variable q3: branching logic [smoker] = '1' and ([q2] = '1' or [q2] = '0') cannot be translated: mixes "
        '"and" with "or", which display conditions cannot nest',
    ),
    (
        "and then or",
        [YESNO, field("q2", "yesno"), field("q3", branching="[smoker] = '1' and [q2] = '1' or [q2] = '0'")],
        "line 5, variable q3: branching logic [smoker] = '1' and [q2] = '1' or [q2] = '0' cannot be translated: mixes",
    ),
    (
        "other event",
        [YESNO, field("q2", branching="[baseline_arm_1][smoker] = '1'")],
        "line 4, variable q2: branching logic [baseline_arm_1][smoker] = '1' cannot be translated: [baseline_arm_1]"
        "[smoker] refers to another event or to a repeating instance",
    ),
    (
        "smart variable",
        [YESNO, field("q2", branching="[user-role-label] = 'nurse'")],
        "line 4, variable q2: branching logic [user-role-label] = 'nurse' cannot be translated: [user-role-label] is a "
        "smart variable or a piping option",
    ),
    (
        "other instrument",
        [YESNO, field("q2", form="form_b", branching="[smoker] = '1'")],
        "line 4, variable q2: branching logic [smoker] = '1' cannot be translated: smoker is in another instrument "
        "(form_a)",
    ),
    (
        "identifier target",
        [field("nir_like", identifier="y"), field("q2", branching="[nir_like] <> ''")],
        "line 4, variable q2: branching logic [nir_like] <> '' cannot be translated: nir_like is left out of the import",
    ),
    (
        "calc target",
        [field("n1", validation="integer"), field("c1", "calc", choices="[n1]"), field("q2", branching="[c1] > 3")],
        "line 5, variable q2: branching logic [c1] > 3 cannot be translated: c1 is a calculated field",
    ),
    (
        "later target",
        [field("q2", branching="[smoker] = '1'"), YESNO],
        "line 3, variable q2: branching logic [smoker] = '1' cannot be translated: smoker does not come before",
    ),
    (
        "unknown target",
        [field("q2", branching="[nowhere] = '1'")],
        "line 3, variable q2: branching logic [nowhere] = '1' cannot be translated: nowhere is not a field",
    ),
    (
        "checkbox without choice",
        [field("cb", "checkbox", choices="1, A | 2, B"), field("q2", branching="[cb] = '1'")],
        "line 4, variable q2: branching logic [cb] = '1' cannot be translated: a checkbox is tested choice by choice",
    ),
    (
        "choice not offered",
        [field("r", "radio", choices="1, A | 2, B"), field("q2", branching="[r] = '7'")],
        "line 4, variable q2: branching logic [r] = '7' cannot be translated: r has no choice 7",
    ),
    (
        "several codes inside and",
        [field("r", "radio", choices="1, A | 2, B | 3, C"), YESNO, field("q2", branching="[r] > 1 and [smoker] = '1'")],
        "line 5, variable q2: branching logic [r] > 1 and [smoker] = '1' cannot be translated: [r] > 1 needs several "
        "options",
    ),
    (
        "yes/no value",
        [YESNO, field("q2", branching="[smoker] = 'yes'")],
        "line 4, variable q2: branching logic [smoker] = 'yes' cannot be translated: a yes/no field is compared with "
        "'1' (yes) or '0' (no)",
    ),
    ("no choices", [field("r", "radio")], "line 3, variable r: a radio field needs choices"),
    (
        "choice without code",
        [field("r", "dropdown", choices="Oui | Non")],
        'line 3, variable r: the choice Oui has no code: write "code, label"',
    ),
    (
        "bad choice code",
        [field("r", "radio", choices="1.5, Un et demi | 2, Deux")],
        "line 3, variable r: the choice code 1.5 does not fit an option code",
    ),
    (
        "repeated choice code",
        [field("r", "radio", choices="1, A | 1, B")],
        "line 3, variable r: the choice code 1 is used twice",
    ),
    (
        "minimum not a number",
        [field("n", validation="integer", vmin="zero")],
        "line 3, variable n: the minimum zero is not a whole number",
    ),
    (
        "minimum above maximum",
        [field("n", validation="number", vmin="10", vmax="1")],
        "line 3, variable n: the minimum (10) must be below the maximum (1)",
    ),
    ("empty label", [field("n", label=" ")], "line 3, variable n: the field label is empty"),
    ("repeated variable", [YESNO, field("smoker")], "line 4, variable smoker: variable smoker is already on line 3"),
    ("form name", [field("q1", form="Baseline Visit")], "line 3, variable q1: form name Baseline Visit does not fit"),
    ("variable name", [field("q" * 41)], f"line 3, variable {'q' * 41}: the variable name does not fit an item code"),
    (
        "forms apart",
        [YESNO, field("q2", form="form_b"), field("q3")],
        "line 5, variable q3: the rows of form form_a are not together (it started on line 2)",
    ),
]


@pytest.mark.parametrize(("case", "rows", "expected"), PROBLEMS, ids=[c[0] for c in PROBLEMS])
def test_unsupported_parts_are_problems_that_name_line_and_variable(study, case, rows, expected):
    # A second, valid instrument in the same file is not imported either.
    content = dictionary(RECORD, *rows, field("fine", "yesno", form="form_z"))
    result = import_parse(format_="redcap", content=content, study=study)
    assert any(str(p).startswith(expected) for p in result.problems), [str(p) for p in result.problems]
    with pytest.raises(ImportRefused):
        questionnaire_import(study=study, result=result, format_="redcap", by=None)
    assert Questionnaire.objects.count() == 0


LEFT_OUT = [
    ("file", field("photo", "file"), "a file upload has no equivalent in Ressenti: left out"),
    ("signature", field("sign", "file", validation="signature"), "a signature has no equivalent in Ressenti: left out"),
    ("sql", field("site", "sql", choices="select value from x"), "a list filled by an SQL query has no equivalent"),
    ("identity by validation", field("contact", validation="email"), "holds an identity (validation email)"),
    ("identity by name", field("date_naissance", validation="date_dmy"), "looks like an identity"),
    (
        "calc product",
        field("bmi", "calc", choices="[smoker]*[smoker]"),
        "the calculation [smoker]*[smoker] is left out: it multiplies fields together",
    ),
    (
        "calc subtraction",
        field("diff", "calc", choices="[smoker]-1"),
        "the calculation [smoker]-1 is left out: it is not a sum or a mean of fields",
    ),
    ("calc checkbox", field("nb", "calc", choices="[cb(1)]+[cb(2)]"), "is left out: [cb(1)] counts a checkbox choice"),
    ("calc over text", field("t", "calc", choices="[label_only]"), "is left out: label_only has no numeric value"),
    (
        "calc bad division",
        field("m", "calc", choices="([smoker]+[smoker])/3"),
        "is left out: it divides by a number other than the count of its fields",
    ),
    (
        "calc long name",
        field("c" * 35, "calc", choices="[smoker]"),
        "is left out: its name is longer than a score name may be (34 characters)",
    ),
    ("calc twice", field("twice", "calc", choices="[smoker]+[smoker]"), "is left out: it counts smoker twice"),
    (
        "calc other function",
        field("d", "calc", choices="datediff([smoker],'today','y')"),
        "is left out: the function datediff() has no equivalent",
    ),
]


@pytest.mark.parametrize(("case", "row", "expected"), LEFT_OUT, ids=[c[0] for c in LEFT_OUT])
def test_fields_without_equivalent_are_left_out_with_a_warning(study, case, row, expected):
    content = dictionary(RECORD, YESNO, field("cb", "checkbox", choices="1, A | 2, B"), field("label_only"), row)
    definitions, problems, warnings = parse(content, study)
    assert problems == []
    assert any(w.startswith(f"line 6, variable {row['name']}: ") and expected in w for w in warnings), warnings
    assert row["name"] not in items(definitions["form_a"])
    assert fhir.rules_of(definitions["form_a"]) == {}


def test_a_form_left_with_no_question_is_left_out(study):
    content = dictionary(
        RECORD,
        YESNO,
        field("first_name", form="contact", identifier="y"),
        field("intro", "descriptive", form="contact", label="Merci"),
    )
    definitions, problems, warnings = parse(content, study)
    assert problems == [] and list(definitions) == ["form_a"]
    assert "form contact: no question is left to import: the instrument is left out" in warnings
    assert any(w.startswith("line 4, variable first_name: marked as an identifier") for w in warnings)


def test_a_file_with_nothing_left_is_refused(study):
    result = import_parse(format_="redcap", content=dictionary(RECORD), study=study)
    assert [str(p) for p in result.problems] == ["file: no instrument has a question left to import"]


def test_codes_already_in_the_study_are_refused(make, study):
    make.questionnaire(study=study, code="form_a")
    result = import_parse(format_="redcap", content=dictionary(RECORD, YESNO), study=study)
    assert (
        "questionnaire form_a: the study already has a questionnaire with the code form_a: give the questionnaire "
        "another code, or a prefix for its code"
    ) in map(str, result.problems)


# --- the file and its header ---------------------------------------------------------------------------


def test_header_variants_and_encodings_are_accepted(study):
    api = [api for _key, _header, api in COLUMNS]
    rows = (RECORD, YESNO)
    variants = {
        "REDCap header": dictionary(*rows),
        "with a byte order mark": b"\xef\xbb\xbf" + dictionary(*rows),
        "API metadata names": dictionary(*rows, header=api),
        "semicolons (spreadsheet in French)": dictionary(*rows, delimiter=";"),
        "older file without ranking and annotation": dictionary(*rows, header=HEADER[:16]).replace(b",,\n", b"\n"),
        "Windows line ends": dictionary(*rows).replace(b"\n", b"\r\n"),
        "empty cells after the last column": dictionary(*rows).replace(b"\n", b",,\n").replace(b",,\n", b"\n", 1),
    }
    for name, content in variants.items():
        definitions, problems, _warnings = parse(content, study)
        assert problems == [], name
        assert kinds(definitions["form_a"]) == {"smoker": "yes_no"}, name


def test_a_wrong_header_is_reported_by_column(study):
    header = list(HEADER)
    header[3], header[11] = "Type", "Logic"
    _definitions, problems, _warnings = parse(dictionary(RECORD, YESNO, header=header), study)
    assert problems == [
        "line 1, column 4: expected the column Field Type, found Type",
        "line 1, column 12: expected the column Branching Logic (Show field only if...), found Logic",
    ]
    _definitions, problems, _warnings = parse(b"Variable / Field Name,Form Name\nq1,form_a\n", study)
    assert "line 1, column 3: the column Section Header is missing" in problems


def test_broken_files_are_reported(study):
    assert parse("é".encode("latin-1") + dictionary(RECORD), study)[1] == [
        "file: is not UTF-8 text (first bad byte at line 1, column 1): save it as UTF-8"
    ]
    assert parse(b"", study)[1] == ["file: is empty"]
    extra = dictionary(RECORD).decode() + "q1,form_a,,text,Label,,,,,,,,,,,,,,unquoted\n"
    assert parse(extra.encode(), study)[1] == ["line 3: 19 cells where the header has 18 (a comma outside quotes?)"]
    unclosed = dictionary(RECORD).decode() + 'q1,form_a,,text,"Label never closed\n'
    assert parse(unclosed.encode(), study)[1][0].startswith("line 3: the CSV cannot be read")


def test_line_numbers_count_lines_of_the_file_with_multiline_labels(study):
    content = dictionary(RECORD, field("q1", label="Première ligne\nseconde ligne"), field("q2", "radoi"))
    assert parse(content, study)[1] == ["line 5, variable q2: unknown field type radoi"]


def test_commands_import_and_export_a_dictionary(study, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    broken = tmp_path / "broken.csv"
    broken.write_bytes(dictionary(RECORD, YESNO, field("q2", branching="[smoker] = '1' or [x(1)] = '1'")))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_questionnaire", study.code, str(broken), "--format", "redcap", stdout=out, stderr=err)
    assert "line 4, variable q2: branching logic" in err.getvalue()
    assert Questionnaire.objects.count() == 0

    call_command("import_questionnaire", study.code, str(DATA / "every-type.csv"), "--format", "redcap", stdout=out)
    assert "warning: line 3, variable nom_patient: marked as an identifier" in out.getvalue()
    assert set(study.questionnaires.values_list("code", flat=True)) == {"suivi", "humeur"}
    questionnaire_publish(questionnaire=study.questionnaires.get(code="humeur"), by=None)
    exported = tmp_path / "humeur.csv"
    call_command(
        "export_questionnaire",
        study.code,
        "humeur",
        "--format",
        "redcap",
        "--output",
        str(exported),
        stderr=io.StringIO(),
    )
    assert [row["name"] for row in rows_of(exported.read_text(encoding="utf-8"))] == ["record_id", "mood", "mood_note"]


def test_admin_upload_preview_then_confirm(make, client, study):
    import re

    from django.core.files.uploadedfile import SimpleUploadedFile

    user = make.user()
    make.member(user=user, study=study, role="designer")
    client.force_login(user)
    url = "/admin/surveys/questionnaire/import/"
    broken = dictionary(RECORD, YESNO, field("q2", branching="datediff([smoker], 'today', 'y') > 1"))
    page = client.post(
        url,
        {
            "action": "check",
            "study": study.pk,
            "format": "redcap",
            "file": SimpleUploadedFile("broken.csv", broken, "text/csv"),
        },
    )
    assert page.status_code == 400
    assert "line 4, variable q2" in page.content.decode() and 'name="token"' not in page.content.decode()
    page = client.post(
        url,
        {
            "action": "check",
            "study": study.pk,
            "format": "redcap",
            "file": SimpleUploadedFile("every-type.csv", (DATA / "every-type.csv").read_bytes()),
        },
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "line 3, variable nom_patient: marked as an identifier" in html
    assert Questionnaire.objects.count() == 0  # a preview writes nothing
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    done = client.post(url, {"action": "import", "token": token})
    assert done.status_code == 302
    assert set(study.questionnaires.values_list("code", flat=True)) == {"suivi", "humeur"}


# --- export ---------------------------------------------------------------------------------------------


def import_and_publish(study, content: bytes):
    result = import_parse(format_="redcap", content=content, study=study)
    assert result.problems == []
    created = questionnaire_import(study=study, result=result, format_="redcap", by=None)
    return result, [questionnaire_publish(questionnaire=q, by=None) for q in created]


def rows_of(text: str) -> list[dict]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert header == HEADER
    return [dict(zip(KEYS, row, strict=True)) for row in reader]


def test_round_trip_import_publish_export_import_gives_the_same_items(make, study):
    first, versions = import_and_publish(study, (DATA / "every-type.csv").read_bytes())
    assert exporter("redcap") is dictionary_export
    for found, version in zip(first.questionnaires, versions, strict=True):
        # The same version is valid FHIR too: the REDCap extension is a plain complex extension.
        exporter("fhir")(version)
        text = dictionary_export(version)
        again = dictionary_parse(text.encode(), study=make.study(languages=["fr"], fallback_language="fr"))
        assert again.problems == []
        (copy,) = again.questionnaires
        assert copy.code == found.code
        assert copy.definition["item"] == found.definition["item"]
        assert fhir.rules_of(copy.definition) == fhir.rules_of(found.definition)
        # Exported again, the file is the same: nothing drifts.
        second, (version_2,) = import_and_publish(make.study(languages=["fr"], fallback_language="fr"), text.encode())
        assert dictionary_export(version_2) == text


def test_export_writes_redcap_columns(study):
    _result, versions = import_and_publish(study, (DATA / "every-type.csv").read_bytes())
    text = dictionary_export(versions[0])
    assert text.splitlines()[0] == ",".join(f'"{h}"' if "," in h else h for h in HEADER)
    rows = {row["name"]: row for row in rows_of(text)}
    # REDCap takes the first field as the record ID.
    assert list(rows)[0] == "record_id" and rows["record_id"]["form"] == "suivi"
    assert "nom_patient" not in rows
    assert (rows["consult_date"]["section"], rows["consult_date"]["validation"], rows["consult_date"]["required"]) == (
        "Votre consultation",
        "date_dmy",
        "y",
    )
    assert rows["mode"]["choices"] == "1, À pied | 2, En voiture | 3, Autrement"
    assert (rows["clinic"]["ftype"], rows["again"]["ftype"], rows["symptoms"]["ftype"]) == (
        "dropdown",
        "truefalse",
        "checkbox",
    )
    assert (
        rows["waiting"]["validation"],
        rows["waiting"]["vmin"],
        rows["waiting"]["vmax"],
        rows["waiting"]["note"],
    ) == ("integer", "0", "600", "En minutes")
    assert (rows["pain"]["ftype"], rows["pain"]["choices"], rows["pain"]["note"]) == (
        "slider",
        "Aucune | Moyenne | Maximale",
        "",
    )
    assert rows["tiredness"]["note"] == "Glissez le curseur"
    assert rows["why_not"]["branching"] == "[happy] = '0'"
    assert rows["not_walking"]["branching"] == "[mode] <> '1' and [mode] <> ''"
    assert rows["pain"]["branching"] == "[symptoms(1)] = '1' or [symptoms(2)] = '1'"
    assert rows["no_fatigue"]["branching"] == "[symptoms(2)] = '0'"
    assert rows["early"]["branching"] == "[waiting] < 5 and [temperature] >= 37.5 and [consult_date] > '2024-01-01'"
    assert (rows["phq_1"]["matrix"], rows["intro_phq"]["ftype"]) == ("phq", "descriptive")
    assert rows["why_not"]["annotation"] == "@CHARLIMIT=500"
    calcs = {name: row["choices"] for name, row in rows.items() if row["ftype"] == "calc"}
    assert calcs == {
        "phq_total": "[phq_1]+[phq_2]",
        "phq_mean": "mean([phq_1],[phq_2])",
        "phq_avg": "round(([phq_1]+[phq_2])/2,1)",
        "phq_sum": "[phq_1]+[phq_2]+[happy]",
        "phq_scaled": "round(([phq_total])*25,0)",
    }


def test_export_of_a_designed_questionnaire(make):
    version = make.published_version(study=make.study(languages=["fr", "en"], fallback_language="fr"))
    rows = {row["name"]: row for row in rows_of(dictionary_export(version))}
    form = version.questionnaire.code
    assert list(rows) == ["record_id", "mood", "why", "pain"]
    assert (rows["mood"]["form"], rows["mood"]["section"], rows["mood"]["ftype"], rows["mood"]["required"]) == (
        form,
        "Page p1",
        "radio",
        "y",
    )
    assert rows["mood"]["choices"] == "a0, Jamais | a1, Parfois | a2, Souvent"
    assert (rows["why"]["ftype"], rows["why"]["branching"], rows["why"]["annotation"]) == (
        "notes",
        "[mood] = 'a2'",
        "@CHARLIMIT=500",
    )
    assert (rows["pain"]["ftype"], rows["pain"]["vmin"], rows["pain"]["vmax"]) == ("slider", "0", "10")
    # And REDCap's file comes back in as the same questions.
    study = make.study(languages=["fr"], fallback_language="fr")
    definitions, problems, _warnings = parse(dictionary_export(version).encode(), study)
    assert problems == []
    assert kinds(definitions[form]) == {"mood": "single", "why": "long_text", "pain": "nrs"}
    assert items(definitions[form])["why"]["enableWhen"] == [
        {"question": "mood", "operator": "=", "answerCoding": {"code": "a2"}}
    ]


def test_scores_redcap_would_compute_differently_are_not_exported(make):
    study = make.study(languages=["fr"], fallback_language="fr")
    questionnaire = make.valid_questionnaire(study=study)
    rules = {
        "scores": [
            # Options a0..a2 are scored 0..2, but REDCap would add the codes: not exportable.
            {"name": "mood_score", "label": {"fr": "Humeur"}, "items": ["mood"], "method": "sum"},
            {"name": "pain_only", "label": {"fr": "Douleur"}, "items": ["pain"], "method": "sum"},
            {
                "name": "prorated",
                "label": {"fr": "Proratisé"},
                "items": ["pain", "mood"],
                "method": "sum",
                "min_answered": 1,
                "missing": "prorate",
            },
            {"name": "reversed", "label": {"fr": "Inversé"}, "items": ["pain"], "method": "sum", "reverse": ["pain"]},
        ]
    }
    Questionnaire.objects.filter(pk=questionnaire.pk).update(rules=rules)
    questionnaire.refresh_from_db()
    version = questionnaire_publish(questionnaire=questionnaire, by=None)
    calcs = {row["name"]: row["choices"] for row in rows_of(dictionary_export(version)) if row["ftype"] == "calc"}
    assert calcs == {"pain_only": "[pain]"}


def test_export_of_an_imported_fhir_definition_flattens_groups_and_names(make):
    study = make.study(languages=["en"], fallback_language="en")
    definition = {
        "resourceType": "Questionnaire",
        "language": "en",
        "title": "Nested",
        "item": [
            {"linkId": "4.0", "type": "string", "text": "Anything to report?"},
            {
                "linkId": "G1",
                "type": "group",
                "text": "Outer",
                "enableWhen": [{"question": "4.0", "operator": "exists", "answerBoolean": True}],
                "item": [
                    {
                        "linkId": "4.1",
                        "type": "choice",
                        "text": "Diagnosis",
                        "repeats": True,
                        "answerOption": [
                            {"valueCoding": {"code": "dm", "display": "Diabetes"}},
                            {"valueCoding": {"code": "ht", "display": "Hypertension"}},
                        ],
                    },
                    {
                        "linkId": "4.2",
                        "type": "boolean",
                        "text": "Insulin?",
                        "enableWhen": [{"question": "4.1", "operator": "=", "answerCoding": {"code": "dm"}}],
                    },
                ],
            },
        ],
    }
    questionnaire = make.questionnaire(study=study, code="nested-fhir")
    Questionnaire.objects.filter(pk=questionnaire.pk).update(source_definition=definition, source_format="fhir")
    questionnaire.refresh_from_db()
    version = questionnaire_publish(questionnaire=questionnaire, by=None)
    rows = rows_of(dictionary_export(version))
    assert [(r["name"], r["form"], r["section"], r["ftype"]) for r in rows] == [
        ("record_id", "nested_fhir", "", "text"),
        ("v_4_0", "nested_fhir", "", "text"),
        ("v_4_1", "nested_fhir", "Outer", "checkbox"),
        ("v_4_2", "nested_fhir", "", "yesno"),
    ]
    # A group's condition applies to each of its fields.
    assert rows[2]["branching"] == "[v_4_0] <> ''"
    assert rows[3]["branching"] == "([v_4_0] <> '') and ([v_4_1(dm)] = '1')"
    assert rows[2]["choices"] == "dm, Diabetes | ht, Hypertension"


def test_redcap_extension_is_plain_fhir(every_type):
    # One complex extension of sub-extensions: other FHIR tools keep it as an unknown extension.
    node = items(every_type[0]["suivi"])["again"]
    (ext,) = [e for e in node["extension"] if e["url"] == EXT_REDCAP]
    assert ext == {
        "url": EXT_REDCAP,
        "extension": [
            {"url": "fieldType", "valueString": "truefalse"},
            {"url": "annotation", "valueString": "@HIDDEN-PDF"},
        ],
    }
    json.dumps(every_type[0])  # serialisable as it is stored
