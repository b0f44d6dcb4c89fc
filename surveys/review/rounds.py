"""Review rounds on the designer's side: open and close a round, consolidate feedback, act on it, sign-off.

A round freezes the draft's definition and content hash at opening; everything reviewers say refers to that
frozen text. Sign-off (Study.review_approvals_required > 0): a version publishes only when a CLOSED round of the
same questionnaire reviewed exactly the content being published (same content hash) and at least N reviewers
approved that hash; otherwise only an audited override (PublishOverride, with a reason) lets it through.

Who may override: superusers and the study's investigators (surveys.override_publish in rules.py). Not designers:
the people who wrote the content do not waive its review.

Reviewers are shown to designers by kind and a number within the round ("Expert patient 2"), never by name or
e-mail: feedback is judged on its content, reviewers speak more freely, and surveys/ keeps no identities.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from statistics import mean

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from surveys.models import (
    ItemFeedback,
    Panel,
    PanelMember,
    PublishOverride,
    Questionnaire,
    ReviewRound,
    ReviewSubmission,
)
from surveys.questionnaires import fhir
from surveys.questionnaires.validation import Problem
from surveys.review.facts import ItemFacts, ReviewFacts, review_facts

RATINGS = ("clarity", "relevance", "acceptability")


class ReviewError(Exception):
    """A request about a round that cannot be carried out; nothing was changed."""

    def __init__(self, field_: str, message: str):
        super().__init__(f"{field_}: {message}")
        self.field = field_
        self.message = message


@transaction.atomic
def round_open(
    *,
    questionnaire: Questionnaire,
    panel: Panel,
    deadline: dt.datetime,
    by: AbstractBaseUser,
    title: str = "",
    instructions: str = "",
    includes_notice: bool = False,
    includes_schedule: bool = False,
) -> ReviewRound:
    """Freeze the draft as it is now and ask `panel` to review it by `deadline`."""
    if panel.study_id not in (None, questionnaire.study_id):
        raise ReviewError("panel", _("This panel belongs to another study."))
    if deadline <= timezone.now():
        raise ReviewError("deadline", _("The deadline must be in the future."))
    definition = fhir.definition_from_draft(questionnaire)
    return ReviewRound.objects.create(
        questionnaire=questionnaire,
        panel=panel,
        deadline=deadline,
        opened_by=by,
        title=title,
        instructions=instructions,
        includes_notice=includes_notice,
        includes_schedule=includes_schedule,
        definition=definition,
        content_hash=fhir.content_hash(definition),
    )


def round_close(*, round_: ReviewRound, by: AbstractBaseUser) -> ReviewRound:
    """Close a round: reviewers can no longer change their answers, and its approvals now count for sign-off."""
    if round_.closed_at is None:
        round_.closed_at = timezone.now()
        round_._change_reason = f"closed by {getattr(by, 'pk', '')}"
        round_.save(update_fields=["closed_at"])
    return round_


def feedback_handle(
    *, feedback: ItemFeedback, by: AbstractBaseUser, reply: str = "", status: str = "", reason: str = ""
) -> ItemFeedback:
    """The designer answers a comment: a reply, and/or resolved / declined (a reason is required to decline).

    Who and when are recorded on the row; django-simple-history keeps every earlier state."""
    status = status or feedback.status
    if status not in ItemFeedback.Status.values:
        raise ReviewError("status", _("Unknown status."))
    reason = reason.strip()
    if status == ItemFeedback.Status.DECLINED and not reason:
        raise ReviewError("reason", _("Say why this comment is declined."))
    feedback.reply = reply.strip() or feedback.reply
    feedback.status = status
    feedback.reason = reason or feedback.reason
    feedback.handled_by = by
    feedback.handled_at = timezone.now()
    feedback.save()
    return feedback


# --- consolidation ---------------------------------------------------------------------------


@dataclass
class ReviewerLabel:
    kind: str
    number: int

    def __str__(self) -> str:
        label = PanelMember.Kind(self.kind).label if self.kind in PanelMember.Kind.values else _("Reviewer")
        return f"{label} {self.number}"


@dataclass
class ItemSummary:
    link_id: str
    texts: dict[str, str]
    facts: ItemFacts | None
    averages: dict[str, float | None]
    counts: dict[str, int]
    feedback: list[tuple[str, ItemFeedback]] = field(default_factory=list)  # (reviewer label, row)

    @property
    def text_rows(self) -> list[tuple[str, str, int | None, bool]]:
        """(language, text, readability score rounded, flagged) for the admin table."""
        return [
            (
                lang,
                text,
                self.facts.ease_rounded(lang) if self.facts else None,
                bool(self.facts and lang in self.facts.flagged),
            )
            for lang, text in self.texts.items()
        ]

    @property
    def comments(self) -> list[tuple[str, ItemFeedback]]:
        return [(who, f) for who, f in self.feedback if f.comment or f.suggestion]


@dataclass
class RoundSummary:
    round: ReviewRound
    facts: ReviewFacts
    items: list[ItemSummary]
    burden_average: float | None
    burden_count: int
    timing_counts: dict[str, int]
    submissions: list[tuple[str, ReviewSubmission]]
    approvals: int
    required: int


def _reviewer_labels(round_: ReviewRound) -> dict[int, str]:
    """user id → "Expert patient 1": numbered per kind, in the order members joined the panel."""
    labels: dict[int, str] = {}
    per_kind: dict[str, int] = {}
    for user_id, kind in round_.panel.members.order_by("id").values_list("user_id", "kind"):
        per_kind[kind] = per_kind.get(kind, 0) + 1
        labels[user_id] = str(ReviewerLabel(kind, per_kind[kind]))
    return labels


def _label(labels: dict[int, str], user_id: int) -> str:
    if user_id not in labels:  # no longer a member: still numbered, after the others
        labels[user_id] = f"{_('Reviewer')} {len(labels) + 1}"
    return labels[user_id]


def approvals_of(round_: ReviewRound) -> int:
    """Submitted approvals of exactly the content the round froze."""
    return round_.submissions.filter(
        approved=True, approved_hash=round_.content_hash, submitted_at__isnull=False
    ).count()


def round_summary(round_: ReviewRound) -> RoundSummary:
    definition = round_.definition
    base = definition.get("language", "fr")
    facts = review_facts(definition)
    labels = _reviewer_labels(round_)
    rows = list(round_.item_feedback.select_related("handled_by").order_by("link_id", "id"))
    items = []
    for node in fhir.iter_items(definition.get("item", [])):
        if node.get("type") == "group":
            continue
        link_id = node.get("linkId", "")
        mine = [r for r in rows if r.link_id == link_id]
        averages, counts = {}, {}
        for name in RATINGS:
            values = [getattr(r, name) for r in mine if getattr(r, name) is not None]
            averages[name] = round(mean(values), 1) if values else None
            counts[name] = len(values)
        items.append(
            ItemSummary(
                link_id=link_id,
                texts={lang: fhir.text_in(node, "text", lang, base) for lang in facts.languages},
                facts=facts.for_item(link_id),
                averages=averages,
                counts=counts,
                feedback=[(_label(labels, r.reviewer_id), r) for r in mine],
            )
        )
    submissions = list(round_.submissions.filter(submitted_at__isnull=False).order_by("submitted_at", "id"))
    burdens = [s.burden for s in submissions if s.burden is not None]
    timing: dict[str, int] = {}
    for s in submissions:
        if s.timing:
            timing[s.timing] = timing.get(s.timing, 0) + 1
    return RoundSummary(
        round=round_,
        facts=facts,
        items=items,
        burden_average=round(mean(burdens), 1) if burdens else None,
        burden_count=len(burdens),
        timing_counts=timing,
        submissions=[(_label(labels, s.reviewer_id), s) for s in submissions],
        approvals=approvals_of(round_),
        required=round_.questionnaire.study.review_approvals_required,
    )


# --- sign-off --------------------------------------------------------------------------------


def approving_round(*, questionnaire: Questionnaire, content_hash: str) -> ReviewRound | None:
    """The latest closed round of `questionnaire` that reviewed `content_hash` with enough approvals."""
    required = questionnaire.study.review_approvals_required
    rounds = ReviewRound.objects.filter(
        questionnaire=questionnaire, content_hash=content_hash, closed_at__isnull=False
    ).order_by("-closed_at", "-id")
    return next((r for r in rounds if approvals_of(r) >= required), None)


def signoff_problems(*, questionnaire: Questionnaire, content_hash: str) -> list[Problem]:
    """Why `content_hash` may not be published without an override ([] when the study needs no sign-off)."""
    required = questionnaire.study.review_approvals_required
    if required <= 0 or approving_round(questionnaire=questionnaire, content_hash=content_hash):
        return []
    where = _("review sign-off")
    same = ReviewRound.objects.filter(questionnaire=questionnaire, content_hash=content_hash)
    if not ReviewRound.objects.filter(questionnaire=questionnaire, closed_at__isnull=False).exists():
        message = _("This study requires %(n)s approvals from a closed review round; no round has been closed.")
    elif not same.filter(closed_at__isnull=False).exists():
        message = _(
            "The draft has changed since the last closed review round: open a new round "
            "(%(n)s approvals required) or publish with an override."
        )
    else:
        message = _("The closed review round of this content has fewer than the %(n)s approvals required.")
    return [Problem(where, message % {"n": required})]


OVERRIDE_PERM = "surveys.override_publish"


def signoff_of(
    *, questionnaire: Questionnaire, content_hash: str, by: AbstractBaseUser | None, override_reason: str = ""
) -> tuple[ReviewRound | None, PublishOverride | None, list[Problem]]:
    """For questionnaire_publish: the approving round, or the override row written now, or the problems.

    The override row is written inside the publish transaction, so it exists only if the version does."""
    if questionnaire.study.review_approvals_required <= 0:
        return None, None, []
    approved = approving_round(questionnaire=questionnaire, content_hash=content_hash)
    if approved is not None:
        return approved, None, []
    reason = override_reason.strip()
    if not reason:
        return None, None, signoff_problems(questionnaire=questionnaire, content_hash=content_hash)
    if by is None or not by.has_perm(OVERRIDE_PERM, questionnaire):
        return None, None, [Problem(_("review sign-off"), _("You may not publish without the review sign-off."))]
    override = PublishOverride.objects.create(
        questionnaire=questionnaire, content_hash=content_hash, by=by, reason=reason
    )
    return None, override, []
