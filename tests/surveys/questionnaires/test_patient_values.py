"""Patient pages keep every answer: yes/no shown again, hidden items, the language switch, the error
summary and the designer's preview with live conditions (the browser tests do the same in Chromium)."""

from __future__ import annotations

import re

from django.urls import reverse

from surveys.answering.links import assignment_link_token
from surveys.models import Item, Response
from surveys.questionnaires import conditions, fhir, values
from surveys.questionnaires.publish import questionnaire_publish
from tests.factories import YES_NO_SOMETIMES


def url(token: str, page=None) -> str:
    base = reverse("surveys:respond", args=[token])
    return f"{base}?p={page}" if page else base


def link_to(make, questionnaire, *, language: str = "en") -> tuple[str, object]:
    version = questionnaire_publish(questionnaire=questionnaire, by=None)
    tp = make.timepoint(version=version)
    participant = make.participant(study=version.questionnaire.study, language=language)
    assignment = make.assignment(participant=participant, timepoint=tp)
    return assignment_link_token(assignment=assignment), assignment


def yes_no_questionnaire(make):
    """Page 1: a yes/no revealing a number; page 2: a text."""
    q = make.questionnaire()
    p1 = make.section(questionnaire=q, link_id="p1", order=1)
    p2 = make.section(questionnaire=q, link_id="p2", order=2)
    make.item(
        questionnaire=q,
        link_id="smoker",
        type="yes_no",
        section=p1,
        required=True,
        text_fr="Fumez-vous ?",
        text_en="Do you smoke?",
    )
    cigs = make.item(
        questionnaire=q,
        link_id="cigs",
        type="integer",
        section=p1,
        min_value=0,
        max_value=100,
        required=True,
        text_fr="Combien de cigarettes par jour, en moyenne ?",
        text_en="How many cigarettes a day, on average, over the last month?",
    )
    make.condition(item=cigs, question="smoker", operator="=", answer="true")
    make.item(questionnaire=q, link_id="note", type="short_text", section=p2)
    return q


def checked_codes(html: str, name: str) -> list[str]:
    return re.findall(rf'<input type="radio" name="{name}" value="([^"]+)" checked>', html)


def test_a_saved_yes_no_is_shown_ticked_and_survives_previous_and_the_change_links(client, make):
    token, assignment = link_to(make, yes_no_questionnaire(make))
    # Without JavaScript: Yes, Next (the follow-up appears), 2, Next.
    first = client.post(url(token), {"page": "1", "shown": "smoker", "smoker": "true", "action": "next"})
    assert first.status_code == 200 and "Your answer added a question" in first.content.decode()
    assert checked_codes(first.content.decode(), "smoker") == ["true"]
    client.post(url(token), {"page": "1", "shown": "smoker cigs", "smoker": "true", "cigs": "2", "action": "next"})
    stored = {"smoker": True, "cigs": 2}
    assert Response.objects.get(assignment=assignment).answers == stored
    # Shown again (Previous and the review page's change link both ask for ?p=1): ticked, with its follow-up.
    assert 'href="?p=1&amp;back=review"' in client.get(url(token, "review")).content.decode()
    html = client.get(url(token, 1)).content.decode()
    assert checked_codes(html, "smoker") == ["true"] and 'value="2"' in html
    # Resuming goes on at page 2, the first page not yet passed.
    assert "Page 2 of 2" in client.get(url(token)).content.decode()
    # Posting the page back as shown changes nothing.
    client.post(url(token), {"page": "1", "shown": "smoker cigs", "smoker": "true", "cigs": "2", "action": "next"})
    assert Response.objects.get(assignment=assignment).answers == stored
    # No is kept too (False is an answer, not a blank).
    client.post(url(token), {"page": "1", "shown": "smoker cigs", "smoker": "false", "action": "next"})
    assert Response.objects.get(assignment=assignment).answers == {"smoker": False}
    assert checked_codes(client.get(url(token, 1)).content.decode(), "smoker") == ["false"]


def test_not_equal_on_an_unanswered_question_shows_the_item(make):
    """FHIR R4: != is true when no answer equals the value, so true when unanswered."""
    q = make.questionnaire()
    p1 = make.section(questionnaire=q, link_id="p1", order=1)
    make.item(questionnaire=q, link_id="mode", section=p1, options=YES_NO_SOMETIMES)
    other = make.item(questionnaire=q, link_id="other", type="short_text", section=p1)
    make.condition(item=other, question="mode", operator="!=", answer="a0")
    definition = fhir.definition_from_draft(q)
    assert "other" in conditions.enabled_ids(definition, {})
    assert "other" in conditions.enabled_ids(definition, {"mode": "a1"})
    assert "other" not in conditions.enabled_ids(definition, {"mode": "a0"})


def hidden_definition() -> dict:
    return {
        "resourceType": "Questionnaire",
        "status": "active",
        "language": "en",
        "title": "Hidden items",
        "item": [
            {"linkId": "q1", "type": "integer", "text": "Visible question"},
            {
                "linkId": "key",
                "type": "string",
                "text": "Scoring key for clinicians",
                "extension": [{"url": conditions.EXT_HIDDEN, "valueBoolean": True}],
            },
            {
                "linkId": "g",
                "type": "group",
                "text": "Clinician section",
                "extension": [{"url": conditions.EXT_HIDDEN, "valueBoolean": True}],
                "item": [{"linkId": "inner", "type": "string", "text": "Inside a hidden group"}],
            },
        ],
    }


def test_questionnaire_hidden_items_are_never_shown_but_kept_in_the_definition(client, make):
    study = make.study(languages=["en"], fallback_language="en")
    q = make.questionnaire(study=study, source_definition=hidden_definition(), source_format="fhir")
    token, assignment = link_to(make, q)
    html = client.get(url(token)).content.decode()
    assert "Visible question" in html
    assert "Scoring key" not in html and "Clinician section" not in html and "Inside a hidden group" not in html
    definition = assignment.timepoint.version.definition
    assert {"key", "inner"} <= set(fhir.items_by_link(definition))
    assert conditions.enabled_ids(definition, {}) == {"q1"}
    # A post naming a hidden item stores nothing for it.
    client.post(url(token), {"page": "1", "shown": "q1", "q1": "3", "key": "x", "inner": "y", "action": "next"})
    assert Response.objects.get(assignment=assignment).answers == {"q1": 3}


def test_the_language_switch_keeps_what_was_entered_on_the_page(client, make):
    token, assignment = link_to(make, yes_no_questionnaire(make))
    html = client.get(url(token)).content.decode()
    # The switch is a button of the answers form, not a link that would drop the entries.
    assert 'form="answers" type="submit" name="action" value="lang-fr"' in html
    switched = client.post(
        url(token), {"page": "1", "shown": "smoker cigs", "smoker": "true", "cigs": "12", "action": "lang-fr"}
    )
    assert switched.status_code == 302 and switched["Location"].endswith("?p=1")
    assert Response.objects.get(assignment=assignment).answers == {"smoker": True, "cigs": 12}
    page = client.get(switched["Location"]).content.decode()
    assert '<html lang="fr">' in page and "Fumez-vous" in page
    assert checked_codes(page, "smoker") == ["true"] and 'value="12"' in page
    # Switching asks for nothing else: a required question left empty is no error yet.
    other_token, other = link_to(make, yes_no_questionnaire(make))
    client.post(url(other_token), {"page": "1", "shown": "smoker", "action": "lang-fr"})
    assert Response.objects.get(assignment=other).next_page == 0


def test_the_error_summary_names_each_question_and_links_to_it(client, make):
    token, _assignment = link_to(make, yes_no_questionnaire(make))
    page = client.post(
        url(token), {"page": "1", "shown": "smoker cigs", "smoker": "true", "cigs": "abc", "action": "next"}
    )
    assert page.status_code == 422
    summary = page.content.decode().split('id="errors"')[1].split("</div>")[0]
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    assert links == [("f-cigs", "How many cigarettes a day, on average, over…: Enter a number, for example 12.")]
    missing = client.post(url(token), {"page": "1", "shown": "smoker cigs", "action": "next"}).content.decode()
    summary = missing.split('id="errors"')[1].split("</div>")[0]
    assert "Do you smoke?: Answer this question to continue." in summary


def test_a_question_is_revealed_once_so_the_second_post_goes_on_or_names_what_is_missing(client, make):
    token, assignment = link_to(make, yes_no_questionnaire(make))
    # A script that hides what the server shows would post "shown" without the follow-up, every time.
    first = client.post(url(token), {"page": "1", "shown": "smoker", "smoker": "true", "action": "next"})
    assert 'name="revealed" value="cigs"' in first.content.decode()
    second = client.post(
        url(token), {"page": "1", "shown": "smoker", "revealed": "cigs", "smoker": "true", "action": "next"}
    )
    assert second.status_code == 422
    assert "How many cigarettes a day" in second.content.decode().split('id="errors"')[1].split("</div>")[0]
    third = client.post(
        url(token),
        {"page": "1", "shown": "smoker", "revealed": "cigs", "smoker": "true", "cigs": "3", "action": "next"},
    )
    assert third.status_code == 302 and third["Location"].endswith("?p=2")
    assert Response.objects.get(assignment=assignment).answers == {"smoker": True, "cigs": 3}


def preview_url(name: str, pk: int) -> str:
    return reverse(f"admin:surveys_questionnaire_{name}", args=[pk])


def test_the_preview_applies_conditions_without_javascript_and_carries_answers(client, make):
    study = make.study(code="preview-study")
    user = make.user()
    make.member(user=user, study=study, role="designer")
    client.force_login(user)
    q = yes_no_questionnaire(make)
    q.study = study
    q.save()
    frame = preview_url("preview_frame", q.pk)
    blank = client.get(frame, {"lang": "en", "page": 1}).content.decode()
    assert 'id="q-f-cigs" hidden' in blank and "Apply the answers" in blank
    applied = client.get(frame, {"lang": "en", "page": 1, "smoker": "true"}).content.decode()
    assert 'id="q-f-cigs" hidden' not in applied and checked_codes(applied, "smoker") == ["true"]
    # Next carries page 1's answers along as hidden fields; nothing is saved.
    following = client.get(frame, {"lang": "en", "page": 1, "smoker": "true", "cigs": "4", "go": "2"}).content.decode()
    assert "Page 2 of 2" in following
    assert '<input type="hidden" name="smoker" value="true">' in following
    assert '<input type="hidden" name="cigs" value="4">' in following
    # A bad value is shown as the patient would see it.
    wrong = client.get(frame, {"lang": "en", "page": 1, "smoker": "true", "cigs": "x"}).content.decode()
    assert "Enter a number, for example 12." in wrong
    assert not Response.objects.exists() and not q.versions.exists()


def test_every_place_reads_an_option_score_wherever_fhir_puts_it(make):
    """ordinalValue or itemWeight, on the answerOption or on its valueCoding: scores, alerts and the
    number of an answer agree."""
    from surveys.scoring import alerts, compute

    def option(code: str, where: str, url: str, score: int) -> dict:
        ext = [{"url": url, "valueDecimal": score}]
        return (
            {"valueCoding": {"code": code, "extension": ext}}
            if where == "coding"
            else {"valueCoding": {"code": code}, "extension": ext}
        )

    for where in ("option", "coding"):
        for url_ in values.SCORE_EXTENSIONS:
            node = {
                "linkId": "q",
                "type": "choice",
                "text": "q",
                "answerOption": [option("a0", where, url_, 0), option("a3", where, url_, 3)],
            }
            rules = {
                "scores": [{"name": "s", "label": {"en": "S"}, "items": ["q"], "method": "sum"}],
                "alerts": [
                    {"code": "high", "label": {"en": "High"}, "when": {"answer": "q", "operator": ">=", "value": 3}}
                ],
            }
            definition = {
                "language": "en",
                "title": "t",
                "item": [node],
                "extension": [{"url": fhir.EXT_RULES, "valueString": __import__("json").dumps(rules)}],
            }
            assert values.as_number(node, "a3") == 3
            assert alerts.alert_problems(definition, languages=["en"]) == []
            scores = compute.scores_compute(definition, {"q": "a3"})
            assert scores["s"]["value"] == 3
            assert alerts.alerts_fired(definition, {"q": "a3"}, scores) == ["high"]
            assert alerts.alerts_fired(definition, {"q": "a0"}, compute.scores_compute(definition, {"q": "a0"})) == []


def test_item_types_cover_time_of_day(make):
    assert Item.Type.TIME in values.ORDERED_TYPES
    node = {"linkId": "t", "type": "time", "text": "When?"}
    assert values.parse(node, ["14h30"]) == ("14:30", "")
    assert values.parse(node, ["07:05:09"]) == ("07:05:09", "")
    assert values.parse(node, ["24:00"])[1]
    assert values.compare(Item.Type.TIME, "14:30", ">", "14:29:59")
