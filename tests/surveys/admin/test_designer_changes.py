"""What the publish confirmation lists: definition_changes over a table of definition pairs and over
generated edits of a definition, and the confirmation pages themselves (POST and CSRF to publish)."""

from __future__ import annotations

import copy
import json

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.questionnaires import fhir
from surveys.questionnaires.changes import definition_changes

BASE = {
    "resourceType": "Questionnaire",
    "language": "fr",
    "title": "Sommeil",
    "extension": [
        {
            "url": fhir.EXT_RULES,
            "valueString": json.dumps(
                {
                    "scores": [{"name": "total", "items": ["mood", "pain"], "method": "sum"}],
                    "alerts": [
                        {
                            "code": "high",
                            "label": {"fr": "Haut"},
                            "when": {"score": "total", "operator": ">=", "value": 9},
                        }
                    ],
                }
            ),
        }
    ],
    "item": [
        {
            "linkId": "p1",
            "type": "group",
            "text": "Page 1",
            "item": [
                {
                    "linkId": "mood",
                    "type": "choice",
                    "text": "Humeur",
                    "answerOption": [
                        {"valueCoding": {"code": "a0", "display": "Bonne"}},
                        {"valueCoding": {"code": "a1", "display": "Mauvaise"}},
                    ],
                },
                {
                    "linkId": "why",
                    "type": "text",
                    "text": "Pourquoi ?",
                    "enableWhen": [{"question": "mood", "operator": "=", "answerCoding": {"code": "a1"}}],
                },
                {"linkId": "pain", "type": "integer", "text": "Douleur"},
            ],
        }
    ],
}


def node(definition: dict, link_id: str) -> dict:
    return fhir.items_by_link(definition)[link_id]


def rules(definition: dict) -> dict:
    return fhir.rules_of(definition)


def set_rules(definition: dict, value: dict) -> None:
    definition["extension"][0]["valueString"] = json.dumps(value)


def add_item(d):
    d["item"][0]["item"].append({"linkId": "sleep", "type": "integer", "text": "Sommeil"})


def remove_item(d):
    d["item"][0]["item"] = [n for n in d["item"][0]["item"] if n["linkId"] != "pain"]


def reword(d):
    node(d, "pain")["text"] = "Douleur aujourd'hui"


def recode(d):
    node(d, "mood")["answerOption"][1]["valueCoding"]["code"] = "a2"


def rescore(d):
    node(d, "mood")["answerOption"][0]["extension"] = [{"url": fhir.EXT_ORDINAL, "valueDecimal": 1}]


def relabel(d):
    node(d, "mood")["answerOption"][0]["valueCoding"]["display"] = "Très bonne"


def recondition(d):
    node(d, "why")["enableWhen"][0]["answerCoding"]["code"] = "a0"


def retype(d):
    node(d, "pain")["type"] = "decimal"


def require(d):
    node(d, "pain")["required"] = True


def rescore_rule(d):
    r = rules(d)
    r["scores"][0]["method"] = "mean"
    set_rules(d, r)


def add_score(d):
    r = rules(d)
    r["scores"].append({"name": "mood_only", "items": ["mood"], "method": "sum"})
    set_rules(d, r)


def remove_alert(d):
    r = rules(d)
    r["alerts"] = []
    set_rules(d, r)


def change_alert(d):
    r = rules(d)
    r["alerts"][0]["when"]["value"] = 12
    set_rules(d, r)


def retitle(d):
    d["title"] = "Sommeil et humeur"


def reorder(d):
    d["item"][0]["item"].reverse()


EDITS = {
    add_item: {("item_added", "sleep")},
    remove_item: {("item_removed", "pain")},
    reword: {("item_reworded", "pain")},
    recode: {("options_recoded", "mood")},
    rescore: {("options_recoded", "mood")},
    relabel: {("options_relabelled", "mood")},
    recondition: {("conditions_changed", "why")},
    retype: {("item_retyped", "pain")},
    require: {("item_settings", "pain")},
    rescore_rule: {("score_changed", "total")},
    add_score: {("score_added", "mood_only")},
    remove_alert: {("alert_removed", "high")},
    change_alert: {("alert_changed", "high")},
    retitle: {("questionnaire_changed", "")},
    reorder: {("item_moved", "")},
}


def kinds(before: dict, after: dict) -> set[tuple[str, str]]:
    return {(c.kind, c.where) for c in definition_changes(before, after)}


@pytest.mark.parametrize("edit", list(EDITS), ids=[e.__name__ for e in EDITS])
def test_each_edit_is_named(edit):
    after = copy.deepcopy(BASE)
    edit(after)
    assert kinds(BASE, after) == EDITS[edit]


def test_same_definition_has_no_change_and_a_version_label_is_not_one():
    after = copy.deepcopy(BASE)
    after["version"] = "7"
    assert definition_changes(BASE, after) == []


def test_first_version_lists_every_item_and_rule():
    found = kinds(None, BASE)
    assert {("item_added", "mood"), ("item_added", "pain"), ("score_added", "total"), ("alert_added", "high")} <= found


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(list(EDITS)), unique=True, max_size=6))
def test_generated_edits_are_each_named(edits):
    # Edits that undo or hide one another are left out: removing "pain" hides its rewording.
    if remove_item in edits and {reword, retype, require, reorder} & set(edits):
        return
    if reorder in edits and add_item in edits or {remove_alert, change_alert} <= set(edits):
        return
    after = copy.deepcopy(BASE)
    for edit in edits:
        edit(after)
    expected = set().union(*(EDITS[e] for e in edits)) if edits else set()
    assert kinds(BASE, after) == expected


# --- the confirmation pages -------------------------------------------------------------------------


@pytest.fixture
def designer(client, make):
    study = make.study(code="changes-study")
    user = make.user()
    make.member(user=user, study=study, role="designer")
    client.force_login(user)
    user.study = study
    return user


def test_publish_shows_the_changes_then_publishes_on_confirmation(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    url = reverse("admin:surveys_questionnaire_publish", args=[q.pk])
    first = client.get(url)
    assert first.status_code == 200 and not q.versions.exists()  # asking is not publishing
    assert "version 1" in first.content.decode()
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(designer)
    assert csrf.post(url, {"content_hash": first.context["content_hash"]}).status_code == 403  # no CSRF token
    assert client.post(url, {"content_hash": first.context["content_hash"]}).status_code == 302
    assert q.versions.count() == 1

    pain = q.items.get(link_id="pain")
    pain.text_fr = "Douleur ce matin"
    pain.save()
    page = client.get(url)
    rows = [(c.kind, c.where) for c in page.context["changes"]]
    assert rows == [("item_reworded", "pain")]
    assert "Douleur" not in page.content.decode() or "pain" in page.content.decode()
    # A draft changed after the page was shown is shown again, not published.
    pain.text_fr = "Douleur ce soir"
    pain.save()
    again = client.post(url, {"content_hash": page.context["content_hash"]})
    assert again.status_code == 200 and q.versions.count() == 1


def test_publish_selected_asks_first(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    changelist = reverse("admin:surveys_questionnaire_changelist")
    page = client.post(changelist, {"action": "publish_selected", "_selected_action": [q.pk]})
    assert page.status_code == 200 and not q.versions.exists()
    digest = page.context["previews"][0]["content_hash"]
    done = client.post(
        changelist,
        {"action": "publish_selected", "_selected_action": [q.pk], "post": "yes", f"content_hash_{q.pk}": digest},
    )
    assert done.status_code == 302 and q.versions.count() == 1


def test_publish_then_add_a_timepoint_fills_it_in(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    url = reverse("admin:surveys_questionnaire_publish", args=[q.pk])
    digest = client.get(url).context["content_hash"]
    response = client.post(url, {"content_hash": digest, "_schedule": "1"})
    version = q.versions.get()
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:surveys_timepoint_add"))
    form = client.get(response["Location"]).context["adminform"].form
    assert str(form.initial["version"]) == str(version.pk)


def test_the_confirmation_lists_what_stops_publishing_before_anyone_confirms(client, make, designer):
    q = make.valid_questionnaire(study=designer.study)
    pain = q.items.get(link_id="pain")
    pain.text_en = ""  # the study asks for English too
    pain.save()
    url = reverse("admin:surveys_questionnaire_publish", args=[q.pk])
    page = client.get(url)
    html = page.content.decode()
    assert page.context["problems"] and "It cannot be published yet" in html
    assert any("pain" in p.where for p in page.context["problems"])
    assert "Yes, publish" not in html
    # Nothing was published, and a post would be refused by the service all the same.
    assert client.post(url, {"content_hash": page.context["content_hash"]}).status_code == 302
    assert not q.versions.exists()
