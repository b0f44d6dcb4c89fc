"""Whatever is posted to a patient page, the answer is a page, never a 5xx, and nothing is lost.

Generated posts (hypothesis) put, in each field of a page, either what a patient would type or
hostile text: NUL and other control characters, "sNaN", "NaN", "Infinity", "1e400", a number of
4,300 digits, dates at the ends of the calendar, very long text. The control fields of the form
(page, shown, action, revealed) get arbitrary text too. Then:

- the page answers 302, or 422 with a message next to each refused question;
- every answer that parses is stored as parsed: a refused neighbour loses nothing;
- every stored value is one a later step accepts: its form posts it back unchanged
  (`values.parse(node, values.form_values(node, v)) == v`), scores and the FHIR export take it.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from surveys.answering import rendering
from surveys.answering.links import assignment_link_token
from surveys.interop.fhir.response_export import response_export
from surveys.models import Response
from surveys.questionnaires import fhir, values
from tests.surveys.answering.test_answer_round_trip import link, typed_strings, version  # noqa: F401 - fixtures

PROPERTY = dict(
    deadline=None,
    database=None,
    max_examples=60,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

HOSTILE = st.sampled_from(
    [
        "\x00",
        "12\x00",
        "a\x00b",
        "sNaN",
        "NaN",
        "-Infinity",
        "Infinity",
        "inf",
        "1e400",
        "1E5",
        "9" * 4300,
        "0." + "1" * 4300,
        "0001-01-01",
        "9999-12-31",
        "31/12/9999",
        "00/00/0000",
        "29/02/2023",
        "24:00",
        "23:59:60",
        "\x0b\x0c\x1b",
        "\ufeff",
        "\u202e",
        "😀" * 300,
        "x" * 100_000,
        "%00",
        "<script>",
        "' OR 1=1 --",
        "\udcff",
    ]
)
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _field(node: dict) -> st.SearchStrategy[list[str]]:
    return st.one_of(st.just([]), typed_strings(node), st.lists(HOSTILE | ANY_TEXT, min_size=1, max_size=2))


def test_hostile_answers_get_a_page_and_keep_their_neighbours(version, link):  # noqa: F811
    token, assignment = link
    definition = version.definition
    nodes = fhir.items_by_link(definition)
    pages = rendering.build_pages(definition, "en")
    url = f"/s/{token}"

    @settings(**PROPERTY)
    @given(st.data())
    def run(data):
        Response.objects.filter(assignment=assignment).delete()
        client = Client()
        for index, page in enumerate(pages):
            shown = [str(n.get("linkId")) for n in page.nodes]
            posted = {link_id: data.draw(_field(nodes[link_id]), label=link_id) for link_id in shown}
            html = client.get(url + (f"?p={index + 1}" if index else "")).content.decode()
            pairs = [
                ("csrfmiddlewaretoken", _csrf(html)),
                ("page", str(index + 1)),
                ("shown", " ".join(shown)),
                ("action", "next"),
            ]
            pairs += [(k, text.replace("\udcff", "\ufffd")) for k, texts in posted.items() for text in texts]
            sent = client.post(
                url,
                data=urlencode(pairs, encoding="utf-8", errors="replace"),
                content_type="application/x-www-form-urlencoded",
            )
            assert sent.status_code in (200, 302, 422), (posted, sent.status_code)
            response = Response.objects.filter(assignment=assignment).first()
            stored = response.answers if response else {}
            for link_id, raw in posted.items():
                value, error = values.parse(nodes[link_id], [r.replace("\udcff", "\ufffd") for r in raw])
                if value is not None and not error and link_id in stored:
                    assert json.dumps(stored[link_id]) == json.dumps(value), (link_id, raw)
            for link_id, value in stored.items():
                node = nodes[link_id]
                assert values.parse(node, values.form_values(node, value)) == (value, ""), (link_id, value)
            if response:
                response_export(response)  # the FHIR export takes every stored value

    run()


@pytest.mark.django_db
@given(page=ANY_TEXT, shown=ANY_TEXT, action=ANY_TEXT, revealed=ANY_TEXT, p=ANY_TEXT)
@settings(**PROPERTY)
def test_the_form_control_fields_take_any_text(make, version, page, shown, action, revealed, p):  # noqa: F811
    tp = make.timepoint(version=version)
    participant = make.participant(study=version.questionnaire.study, language="en")
    token = assignment_link_token(assignment=make.assignment(participant=participant, timepoint=tp))
    client = Client()
    html = client.get(f"/s/{token}").content.decode()
    data = {"csrfmiddlewaretoken": _csrf(html), "page": page, "shown": shown, "action": action, "revealed": revealed}
    assert client.post(f"/s/{token}?p={p}", data).status_code in (200, 302, 422)
    assert client.get(f"/s/{token}", {"p": p}).status_code in (200, 302)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/s/{t}", "/s/{t}/consent", "/s/{t}/withdraw", "/e/{t}", "/review/invitation/{t}/"])
@pytest.mark.parametrize("token", ["%00", "abc%00def", "%ff%fe", "x" * 5000])
def test_a_hostile_token_is_not_found_not_an_error(client, path, token):
    assert client.get(path.format(t=token)).status_code in (404, 410, 200, 302)
    assert client.post(path.format(t=token), {"a": "b"}).status_code in (403, 404, 410, 200, 302)
