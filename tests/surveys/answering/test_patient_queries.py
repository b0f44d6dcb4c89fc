"""The number of SQL queries of a patient page does not grow with the questionnaire."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from surveys.answering.links import assignment_link_token
from surveys.questionnaires.publish import questionnaire_publish


def link_to_questionnaire_with(make, n_items: int) -> str:
    q = make.questionnaire()
    page = make.section(questionnaire=q, link_id="p1", order=1)
    for i in range(n_items):
        make.item(questionnaire=q, link_id=f"q{i}", section=page, options=make.YES_NO_SOMETIMES)
    version = questionnaire_publish(questionnaire=q, by=None)
    a = make.assignment(participant=make.participant(study=q.study), timepoint=make.timepoint(version=version))
    return f"/s/{assignment_link_token(assignment=a)}"


def queries(client, method: str, url: str, data=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, data or {})
    assert response.status_code in (200, 302)
    return len(ctx.captured_queries)


def test_page_view_and_submit_queries_do_not_grow_with_items(client, make):
    small, large = link_to_questionnaire_with(make, 3), link_to_questionnaire_with(make, 120)
    view_small, view_large = queries(client, "get", small), queries(client, "get", large)
    assert view_small == view_large == 1
    post_small = queries(client, "post", small, {"page": "1", **{f"q{i}": "a1" for i in range(3)}})
    post_large = queries(client, "post", large, {"page": "1", **{f"q{i}": "a1" for i in range(120)}})
    assert post_small == post_large
