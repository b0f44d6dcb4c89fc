"""Publishing a draft: validation, freezing, identical content, copying back."""

import pytest

from surveys.models import AnswerOption, Item, QuestionnaireVersion, Section
from surveys.models.questionnaire import ImmutableVersionError
from surveys.questionnaires import fhir
from surveys.questionnaires.publish import PublishError, questionnaire_draft_from_version, questionnaire_publish
from surveys.questionnaires.validation import definition_problems
from tests.factories import YES_NO_SOMETIMES


def problems_of(questionnaire) -> list[str]:
    with pytest.raises(PublishError) as caught:
        questionnaire_publish(questionnaire=questionnaire, by=None)
    assert not QuestionnaireVersion.objects.filter(questionnaire=questionnaire).exists()
    return [str(p) for p in caught.value.problems]


def test_valid_draft_publishes_version_one_with_hash(make):
    q = make.valid_questionnaire()
    version = questionnaire_publish(questionnaire=q, by=None)
    assert version.number == 1
    assert len(version.content_hash) == 64
    assert version.definition["resourceType"] == "Questionnaire"
    assert version.definition["version"] == "1"
    assert [i["linkId"] for i in fhir.iter_items(version.definition["item"])] == ["p1", "mood", "why", "pain"]


def test_publishing_identical_content_twice_creates_no_new_version(make):
    q = make.valid_questionnaire()
    first = questionnaire_publish(questionnaire=q, by=None)
    again = questionnaire_publish(questionnaire=q, by=None)
    assert again.pk == first.pk
    assert q.versions.count() == 1


def test_changed_content_publishes_next_number(make):
    q = make.valid_questionnaire()
    questionnaire_publish(questionnaire=q, by=None)
    Item.objects.filter(questionnaire=q, link_id="pain").update(text_en="Pain today")
    second = questionnaire_publish(questionnaire=q, by=None)
    assert second.number == 2
    assert q.versions.count() == 2


def test_duplicate_code_between_section_and_item_is_reported(make):
    q = make.valid_questionnaire()
    make.section(questionnaire=q, link_id="mood", order=2)
    assert any("mood" in p and "more than once" in p for p in problems_of(q))


def test_duplicate_code_in_an_imported_definition_is_reported():
    definition = {
        "resourceType": "Questionnaire",
        "title": "T",
        "language": "en",
        "item": [{"linkId": "a", "type": "string", "text": "A"}, {"linkId": "a", "type": "string", "text": "B"}],
    }
    problems = definition_problems(definition, languages=["en"])
    assert [str(p) for p in problems] == ["item a: code a is used more than once (codes must be unique)"]


def test_condition_on_missing_item_is_reported(make):
    q = make.valid_questionnaire()
    make.condition(item=q.items.get(link_id="pain"), question="nowhere", answer="1")
    assert "item pain: its display condition refers to nowhere, which does not exist" in problems_of(q)


def test_condition_on_later_item_is_reported(make):
    q = make.valid_questionnaire()
    make.condition(item=q.items.get(link_id="mood"), question="pain", operator=">", answer="3")
    assert "item mood: its display condition refers to pain, which does not come before it" in problems_of(q)


def test_condition_on_unknown_option_and_wrong_operator_are_reported(make):
    q = make.valid_questionnaire()
    pain = q.items.get(link_id="pain")
    make.condition(item=pain, question="mood", answer="zz")
    make.condition(item=pain, question="mood", operator="<", answer="a1")
    problems = problems_of(q)
    assert "item pain: its display condition expects option zz, which mood does not offer" in problems
    assert "item pain: operator < needs a number or date item, but mood is not one" in problems


def test_choice_item_without_options_is_reported(make):
    q = make.valid_questionnaire()
    make.item(questionnaire=q, link_id="empty", type="multiple")
    assert "item empty: a choice item needs at least one answer option" in problems_of(q)


def test_scale_without_bounds_is_reported(make):
    q = make.valid_questionnaire()
    make.item(questionnaire=q, link_id="vas", type="vas", min_value=0)
    assert "item vas: a scale needs both a minimum and a maximum (e.g. 0 and 10)" in problems_of(q)


def test_missing_translation_is_reported_for_text_option_and_title(make):
    q = make.valid_questionnaire()
    q.title_en = ""
    q.save()
    Item.objects.filter(questionnaire=q, link_id="pain").update(text_en="")
    AnswerOption.objects.filter(item__questionnaire=q, code="a1").update(label_fr="")
    problems = problems_of(q)
    assert "questionnaire: title is missing in English" in problems
    assert "item pain: text is missing in English" in problems
    assert "item mood: label of option a1 is missing in French" in problems


def test_every_problem_is_listed_at_once(make):
    q = make.questionnaire()
    make.item(questionnaire=q, link_id="c", type="single")
    make.item(questionnaire=q, link_id="s", type="nrs")
    cond_item = make.item(questionnaire=q, link_id="d", type="short_text", text_en="")
    make.condition(item=cond_item, question="ghost", answer="x")
    assert len(problems_of(q)) == 4


def test_study_languages_decide_which_translations_are_required(make):
    study = make.study(languages=["fr"], fallback_language="fr")
    q = make.valid_questionnaire(study=study)
    Item.objects.filter(questionnaire=q).update(text_en="")
    assert questionnaire_publish(questionnaire=q, by=None).number == 1


def test_published_version_cannot_be_changed_or_deleted(make):
    version = make.published_version()
    version.definition["title"] = "tampered"
    with pytest.raises(ImmutableVersionError):
        version.save()
    with pytest.raises(ImmutableVersionError):
        version.delete()
    with pytest.raises(ImmutableVersionError):
        QuestionnaireVersion.objects.filter(pk=version.pk).update(content_hash="x" * 64)
    with pytest.raises(ImmutableVersionError):
        QuestionnaireVersion.objects.filter(pk=version.pk).delete()
    version.refresh_from_db()
    assert version.definition["title"] != "tampered"


def test_copying_a_version_back_restores_the_draft(make):
    q = make.valid_questionnaire()
    v1 = questionnaire_publish(questionnaire=q, by=None)
    # The designer then wrecks the draft...
    q.items.filter(link_id="why").delete()
    Item.objects.filter(questionnaire=q, link_id="pain").update(text_fr="autre")
    make.item(questionnaire=q, link_id="extra", type="short_text")
    questionnaire_draft_from_version(version=v1, by=None)
    assert fhir.content_hash(fhir.definition_from_draft(q)) == v1.content_hash
    # ...and publishing the restored draft gives back the same version, not a copy.
    assert questionnaire_publish(questionnaire=q, by=None).pk == v1.pk
    assert set(q.items.values_list("link_id", flat=True)) == {"mood", "why", "pain"}
    assert Section.objects.filter(questionnaire=q).count() == 1


def test_round_trip_keeps_every_item_type_and_translation(make):
    q = make.questionnaire()
    s = make.section(questionnaire=q, link_id="pg", order=1)
    for kind in Item.Type.values:
        extra = {}
        if kind in ("single", "multiple"):
            extra["options"] = YES_NO_SOMETIMES
        if kind in ("nrs", "vas"):
            extra.update(min_value=0, max_value=10 if kind == "nrs" else 100)
        make.item(questionnaire=q, link_id=f"i_{kind}", type=kind, section=s, help_fr="aide", help_en="help", **extra)
    v1 = questionnaire_publish(questionnaire=q, by=None)
    questionnaire_draft_from_version(version=v1, by=None)
    assert fhir.definition_from_draft(q) == {k: v for k, v in v1.definition.items() if k != "version"}
