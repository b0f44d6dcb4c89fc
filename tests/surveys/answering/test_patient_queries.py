"""SQL statements of the patient pages: a budget that does not grow with the questionnaire.

Counted as the database sees them (on PostgreSQL, BEGIN and COMMIT included): a page view is one
statement once its version is known to the process, a page save and a submit at most six.
"""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from surveys.answering.links import assignment_link_token
from surveys.models import Response
from surveys.questionnaires.publish import questionnaire_publish

SAVE_BUDGET = 6
SUBMIT_BUDGET = 9


def link_to_questionnaire_with(make, n_items: int, *, study=None):
    q = make.questionnaire(study=study)
    page = make.section(questionnaire=q, link_id="p1", order=1)
    for i in range(n_items):
        make.item(questionnaire=q, link_id=f"q{i}", section=page, options=make.YES_NO_SOMETIMES, required=True)
    version = questionnaire_publish(questionnaire=q, by=None)
    a = make.assignment(participant=make.participant(study=q.study), timepoint=make.timepoint(version=version))
    return f"/s/{assignment_link_token(assignment=a)}", a


def statements(client, method: str, url: str, data=None, *, expect=(200, 302)) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, data or {})
    assert response.status_code in expect, response.status_code
    return [q["sql"] for q in ctx.captured_queries]


def page_post(n_items: int) -> dict:
    return {"page": "1", "action": "next", "shown": " ".join(f"q{i}" for i in range(n_items))} | {
        f"q{i}": "a1" for i in range(n_items)
    }


def test_page_view_save_and_submit_stay_within_budget_whatever_the_size(client, make):
    study = make.study()
    counts = {}
    for n in (3, 120):
        url, assignment = link_to_questionnaire_with(make, n, study=study)
        first_view = statements(client, "get", url)
        view = statements(client, "get", url)
        first_save = statements(client, "post", url, page_post(n))
        save = statements(client, "post", url, page_post(n))
        review = client.get(f"{url}?p=review")
        digest = re.search(r'name="answers_digest" value="([0-9a-f]+)"', review.content.decode()).group(1)
        submit = statements(client, "post", url, {"action": "submit", "answers_digest": digest})
        counts[n] = [len(first_view), len(view), len(first_save), len(save), len(submit)]
        # The definition is read once per process, then never again.
        assert len(first_view) == 2 and len(view) == 1, first_view
        assert not any("questionnaireversion" in sql for sql in view + save + submit)
        assert len(first_save) <= SAVE_BUDGET and len(save) <= SAVE_BUDGET, (first_save, save)
        assert len(submit) <= SUBMIT_BUDGET, "\n".join(s[:150] for s in submit)
        response = Response.objects.get(assignment=assignment)
        assert response.status == Response.Status.COMPLETED
        assert response.answers == {f"q{i}": "a1" for i in range(n)}
        # One history row per save and one for the submit: what the audit shows, and nothing more.
        assert list(response.history.order_by("history_id").values_list("history_change_reason", flat=True)) == [
            "patient saved a page",
            "patient saved a page",
            "patient submitted",
        ]
    assert counts[3] == counts[120]
