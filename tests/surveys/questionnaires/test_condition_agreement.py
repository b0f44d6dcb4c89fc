"""A page can always be left, whatever the page script did (Django test client, no browser).

tests/browser/test_condition_agreement.py shows in Chromium that the script and the server agree on
what a page shows. When they do not (JavaScript off, a script that failed, a `shown` field tampered
with), the server decides: a question the post reveals on its own page comes back once for the
patient to see, and the page carries it in its hidden `revealed` field, so a question is revealed at
most once. Here: for every set of answers on a page with a chain of follow-ups (a revealed question
revealing another) and a conditional group, and every way of getting `shown` wrong, posting the same
answers twice, with the hidden fields the page sent back, reaches the next page or a page whose error
summary names each missing question, never a third round of "your answer added a question".
"""

from __future__ import annotations

import html as html_lib
import itertools
import re

import pytest
from django.http import QueryDict
from django.urls import reverse

from surveys.answering import rendering
from surveys.questionnaires import conditions

EXT_ITEM_TYPE = "urn:ressenti:fhir:extension:item-type"


def _item(link: str, fhir_type: str, kind: str, **extra) -> dict:
    return {
        "linkId": link,
        "type": fhir_type,
        "text": f"Question {link}",
        "extension": [{"url": EXT_ITEM_TYPE, "valueCode": kind}],
        **extra,
    }


def _options(*codes: str) -> list[dict]:
    return [{"valueCoding": {"code": c, "display": f"Option {c}"}} for c in codes]


DEFINITION = {
    "resourceType": "Questionnaire",
    "status": "active",
    "language": "en",
    "title": "Follow-ups",
    "item": [
        {
            "linkId": "p1",
            "type": "group",
            "text": "Page one",
            "item": [
                _item("mood", "choice", "single", required=True, answerOption=_options("a0", "a1", "a2")),
                _item(
                    "why",
                    "text",
                    "long_text",
                    required=True,
                    enableWhen=[{"question": "mood", "operator": "=", "answerCoding": {"code": "a2"}}],
                ),
                # Revealed by a revealed question: a chain.
                _item(
                    "since",
                    "integer",
                    "integer",
                    required=True,
                    enableWhen=[{"question": "why", "operator": "exists", "answerBoolean": True}],
                ),
                {
                    "linkId": "more",
                    "type": "group",
                    "text": "A little more",
                    "enableWhen": [{"question": "mood", "operator": "=", "answerCoding": {"code": "a1"}}],
                    "item": [_item("often", "boolean", "yes_no", required=True), _item("note", "string", "short_text")],
                },
                {
                    "linkId": "thanks",
                    "type": "display",
                    "text": "Thank you.",
                    "extension": [{"url": EXT_ITEM_TYPE, "valueCode": "display"}],
                    "enableWhen": [{"question": "often", "operator": "=", "answerBoolean": True}],
                },
            ],
        },
        {"linkId": "p2", "type": "group", "text": "Page two", "item": [_item("sleep", "boolean", "yes_no")]},
    ],
}
PAGE_ONE = ["mood", "why", "since", "more", "often", "note", "thanks"]

# Answers a patient may post on page one (None: the field is left empty).
ALL_ANSWER_SETS = [
    {"mood": mood, "why": why, "since": since, "often": often}
    for mood, why, since, often in itertools.product(
        [None, "a0", "a1", "a2"], [None, "tired"], [None, "3", "abc"], [None, "true"]
    )
]


# Among them: an invalid value left in a question that the other answers hide (typed while it showed);
# its error is moot, and the page goes on.
ANSWER_SETS = ALL_ANSWER_SETS


def _correct_shown(answers: dict) -> str:
    """What an agreeing script posts: the boxes the server enables for these answers."""
    definition = DEFINITION
    pages = rendering.build_pages(definition, "en")
    post = QueryDict(mutable=True)
    for link, value in answers.items():
        if value is not None:
            post[link] = value
    valid = {k: v for k, v in rendering.parse_page(pages[0], post)[0].items() if v is not None}
    enabled = conditions.enabled_ids(definition, conditions.prune_answers(definition, valid))
    return " ".join(link for link in PAGE_ONE if link in enabled)


def _omit_last(answers: dict) -> str:
    """A script that failed to reveal the last question these answers reveal."""
    shown = _correct_shown(answers).split()
    revealed = [link for link in shown if link not in ("mood",)]
    return " ".join(link for link in shown if not revealed or link != revealed[-1])


# Ways of getting `shown` wrong: (name, the value posted each time, or None for the page's own field).
TAMPERINGS = [
    ("as the page sent it (JavaScript off)", None),
    ("empty", lambda answers: ""),
    ("the last revealed question left out (a failing script)", _omit_last),
    ("only the first question", lambda answers: "mood"),
    ("everything claimed seen", lambda answers: " ".join(PAGE_ONE)),
    ("unknown and other page's ids", lambda answers: "p2 sleep nowhere MOOD WHY"),
    ("junk", lambda answers: "<script>alert(1)</script>\u00a0" + "x" * 3000 + " ' OR 1=1 --"),
]


@pytest.fixture
def link(make):
    """A factory of fresh links to the published DEFINITION (one per scenario: answers are saved)."""
    study = make.study(languages=["en"], fallback_language="en")
    questionnaire = make.questionnaire(study=study, source_definition=DEFINITION)
    from surveys.questionnaires.publish import questionnaire_publish

    version = questionnaire_publish(questionnaire=questionnaire, by=None)

    def new() -> str:
        token, _assignment = make.open_link(version=version)
        return reverse("surveys:respond", args=[token])

    return new


def _hidden(page: str, name: str) -> str | None:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', page)
    return html_lib.unescape(match.group(1)) if match else None


def _summary_links(page: str) -> set[str]:
    summary = re.search(r'<div class="summary".*?</div>', page, re.S)
    return set(re.findall(r'href="#f-([^"]+)"', summary.group(0))) if summary else set()


def _missing_required(answers: dict) -> set[str]:
    """Required questions shown for these answers and left empty or invalid (named in the summary)."""
    pages = rendering.build_pages(DEFINITION, "en")
    post = QueryDict(mutable=True)
    for link_id, value in answers.items():
        if value is not None:
            post[link_id] = value
    parsed, errors, _raw = rendering.parse_page(pages[0], post)
    merged = conditions.prune_answers(DEFINITION, {k: v for k, v in parsed.items() if k not in errors})
    shown = conditions.enabled_ids(DEFINITION, merged)
    return set(conditions.missing_required(DEFINITION, merged)) | {k for k in errors if k in shown}


def _post(client, url: str, answers: dict, shown: str, revealed: str | None):
    data = {"page": "1", "action": "next", "shown": shown, **{k: v for k, v in answers.items() if v is not None}}
    if revealed is not None:
        data["revealed"] = revealed
    return client.post(url, data)


def _leave_page_one(client, url: str, answers: dict, tampering: str, shown_for) -> str:
    """Post `answers` at most twice as a browser would (its `shown` field as the page sent it, or as
    `shown_for` gets it wrong; the `revealed` field as the page sent it); assert where that leads."""
    shown = "mood" if shown_for is None else shown_for(answers)  # page one as first sent shows only mood
    last, posts = _post(client, url, answers, shown, None), 1
    if last.status_code != 302:
        page = last.content.decode()
        # Whatever came back shows every question the post revealed: the patient can answer it.
        for revealed_link in (_hidden(page, "revealed") or "").split():
            assert f'id="q-f-{revealed_link}" hidden' not in page, (tampering, answers)
        shown_again = _hidden(page, "shown") if shown_for is None else shown_for(answers)
        last, posts = _post(client, url, answers, shown_again, _hidden(page, "revealed")), 2
    detail = (tampering, answers, posts)
    missing = _missing_required(answers)
    if last.status_code == 302:
        assert last["Location"].endswith("?p=2"), detail
        assert not missing, detail
        return "next page"
    page = last.content.decode()
    assert last.status_code == 422, detail  # never a 200 "your answer added a question" again
    assert "Your answer added a question" not in page, detail
    assert missing and _summary_links(page) == missing, (detail, _summary_links(page), missing)
    return "errors named"


def test_page_one_is_first_sent_with_only_its_first_question_shown(client, link):
    assert _hidden(client.get(link()).content.decode(), "shown") == "mood"


@pytest.mark.parametrize(("tampering", "shown_for"), TAMPERINGS, ids=[name for name, _f in TAMPERINGS])
def test_two_posts_of_a_page_always_go_on_or_name_what_is_missing(client, link, tampering, shown_for):
    outcomes = {_leave_page_one(client, link(), answers, tampering, shown_for) for answers in ANSWER_SETS}
    assert outcomes == {"next page", "errors named"}


def test_without_javascript_a_chain_of_follow_ups_is_revealed_one_post_at_a_time(client, link):
    """The honest no-JavaScript path, step by step: each post reveals what the last answer added."""
    url = link()
    assert _hidden(client.get(url).content.decode(), "shown") == "mood"
    first = _post(client, url, {"mood": "a2"}, "mood", None)
    page = first.content.decode()
    assert first.status_code == 200 and "Your answer added a question" in page
    assert _hidden(page, "revealed") == "why" and 'id="q-f-why" hidden' not in page
    # The patient answers the revealed question, which reveals the next one.
    second = _post(client, url, {"mood": "a2", "why": "tired"}, _hidden(page, "shown"), _hidden(page, "revealed"))
    page = second.content.decode()
    assert second.status_code == 200 and _hidden(page, "revealed") == "since"
    # Sent again without answering it: named as missing, not revealed a second time.
    third = _post(client, url, {"mood": "a2", "why": "tired"}, _hidden(page, "shown"), _hidden(page, "revealed"))
    assert third.status_code == 422 and _summary_links(third.content.decode()) == {"since"}
    done = _post(client, url, {"mood": "a2", "why": "tired", "since": "3"}, "mood why since", "since")
    assert done.status_code == 302 and done["Location"].endswith("?p=2")


def test_a_group_revealed_without_javascript_shows_its_title_and_questions(client, link):
    url = link()
    first = _post(client, url, {"mood": "a1"}, "mood", None)
    page = first.content.decode()
    assert first.status_code == 200
    assert set(_hidden(page, "revealed").split()) == {"often", "note"}
    for box in ("more", "often", "note"):
        assert f'id="q-f-{box}" hidden' not in page
    assert 'id="q-f-why" hidden' in page and 'id="q-f-thanks" hidden' in page
    second = _post(client, url, {"mood": "a1", "often": "true"}, _hidden(page, "shown"), _hidden(page, "revealed"))
    assert second.status_code == 302 and second["Location"].endswith("?p=2")
