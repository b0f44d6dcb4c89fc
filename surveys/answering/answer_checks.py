"""Read-only checks of stored answers (`manage.py yes_no_answers_check`).

A bug, now fixed, showed a saved yes/no answer unticked whenever its page came back (Previous, the
review page's "change" links, resume, a no-JavaScript reveal of a follow-up); pressing Next then
erased it, and with it the answers of the questions it had revealed. This lists where that may have
happened: a yes/no question put to the patient (on a page passed with Next, or in a submitted
response, and enabled by the stored answers) that has no answer, and the questions hidden now
because one of their display conditions tests such an empty answer. A question the patient simply
left blank looks the same: the list is what the bug may have cost, not what it did.

`response_findings` is pure over one response; `yes_no_answers_check` streams the responses table.
Only pseudonymous data is read (surveys), never the patient register.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from surveys.answering.rendering import build_pages
from surveys.models import Item, QuestionnaireVersion, Response
from surveys.questionnaires import conditions, values

# Finding kinds, as written in the csv output.
EMPTY_YES_NO = "unanswered_yes_no"
HIDDEN_FOLLOW_UP = "hidden_follow_up"


@dataclass(frozen=True)
class VersionShape:
    """What the check needs of a version, computed once per version rather than per response."""

    definition: dict
    # (page index, node) of every question on the patient pages, in document order: the order in
    # which conditions are decided, since a condition only tests earlier questions.
    questions: list[tuple[int, dict]]


def version_shape(definition: dict) -> VersionShape:
    # The language only changes page titles, not which items sit on which page.
    pages = build_pages(definition, str(definition.get("language", "fr")))
    questions = [
        (index, node)
        for index, page in enumerate(pages)
        for node in page.nodes
        if values.kind_of(node) in values.QUESTION_TYPES
    ]
    return VersionShape(definition=definition, questions=questions)


def response_findings(shape: VersionShape, answers: dict, *, next_page: int, completed: bool) -> list[tuple[str, str]]:
    """(linkId, kind) of what this response may have lost, in questionnaire order."""
    evaluation = conditions.conditions_evaluate(shape.definition, answers)
    findings: list[tuple[str, str]] = []
    # Questions whose answer may be gone: a condition testing one of them may have hidden more.
    empty: set[str] = set()
    for index, node in shape.questions:
        # Pages before next_page were passed with Next; a submitted response passed them all.
        if not (completed or index < next_page) or conditions.not_asked(node):
            continue
        link_id = str(node.get("linkId", ""))
        if link_id in evaluation.enabled:
            if values.kind_of(node) == Item.Type.YES_NO and values.is_missing(answers.get(link_id)):
                findings.append((link_id, EMPTY_YES_NO))
                empty.add(link_id)
        elif any(
            str(condition.get("question", "")) in empty
            for clause in evaluation.chains.get(link_id, [])
            for condition in clause.conditions
        ):
            findings.append((link_id, HIDDEN_FOLLOW_UP))
            empty.add(link_id)
    return findings


@dataclass(frozen=True)
class CheckedResponse:
    study: str
    pseudonym: str
    questionnaire: str
    version: int
    response_id: int
    submitted_at: datetime | None
    # Empty when nothing may have been lost: every checked response is yielded, so callers can count.
    findings: list[tuple[str, str]]


def yes_no_answers_check(
    *, studies: Sequence[str] = (), include_in_progress: bool = False, chunk_size: int = 500
) -> Iterator[CheckedResponse]:
    """Every submitted response (and the in-progress ones when asked) of these studies (all when
    none), ordered by study, pseudonym, questionnaire and version, with its findings. Reads only."""
    rows = Response.objects.all()
    if not include_in_progress:
        rows = rows.filter(status=Response.Status.COMPLETED)
    if studies:
        rows = rows.filter(assignment__participant__study__code__in=list(studies))
    # Plain tuples, and the definition read once per version: the table may be large, the versions are few.
    rows = rows.order_by(
        "assignment__participant__study__code",
        "assignment__participant__pseudonym",
        "version__questionnaire__code",
        "version__number",
        "pk",
    ).values_list(
        "pk",
        "status",
        "answers",
        "next_page",
        "submitted_at",
        "version_id",
        "version__number",
        "version__questionnaire__code",
        "assignment__participant__pseudonym",
        "assignment__participant__study__code",
    )
    shapes: dict[int, VersionShape] = {}
    for pk, status, answers, next_page, submitted_at, version_id, number, code, pseudonym, study in rows.iterator(
        chunk_size=chunk_size
    ):
        if version_id not in shapes:
            definition = QuestionnaireVersion.objects.values_list("definition", flat=True).get(pk=version_id)
            shapes[version_id] = version_shape(definition)
        completed = status == Response.Status.COMPLETED
        findings = response_findings(shapes[version_id], answers or {}, next_page=next_page, completed=completed)
        yield CheckedResponse(
            study=study,
            pseudonym=pseudonym,
            questionnaire=code,
            version=number,
            response_id=pk,
            submitted_at=submitted_at,
            findings=findings,
        )
