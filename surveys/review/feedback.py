"""A reviewer's feedback on a round: per item, overall, and what the designers did with it.

Services behind the reviewer's pages (surveys/review/round_views.py). Saving is idempotent: one
ItemFeedback per round, reviewer and item, one ReviewSubmission per round and reviewer, updated
on every save, so a double click or a resent form never makes a second row. Once the deadline
has passed or the round is closed, nothing changes any more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from surveys.answering import rendering
from surveys.models import ConsentNotice, ItemFeedback, ReviewRound, ReviewSubmission, Timepoint
from surveys.questionnaires import fhir

RATINGS = ("clarity", "relevance", "acceptability")


class RoundClosed(Exception):
    """The round no longer takes feedback (deadline passed or closed)."""


def round_is_open(round_: ReviewRound, *, now=None) -> bool:
    now = now or timezone.now()
    return round_.closed_at is None and round_.deadline > now


def _rating(data, name: str) -> tuple[int | None, str]:
    """(value, error) of a 1–5 rating; empty means not rated."""
    raw = (data.get(name) or "").strip()
    if not raw:
        return None, ""
    if raw.isdigit() and 1 <= int(raw) <= 5:
        return int(raw), ""
    return None, _("Choose a rating from 1 to 5.")


def _link_ids(definition: dict) -> set[str]:
    found: set[str] = set()

    def walk(nodes: list[dict]) -> None:
        for node in nodes:
            if node.get("linkId"):
                found.add(node["linkId"])
            walk(node.get("item", []))

    walk(definition.get("item", []))
    return found


@dataclass
class Saved:
    """What a save did: the row (None when nothing was saved) and the errors by field name."""

    row: ItemFeedback | ReviewSubmission | None
    errors: dict[str, str] = field(default_factory=dict)


def item_feedback_save(*, round_: ReviewRound, reviewer, link_id: str, data) -> Saved:
    """Create or update this reviewer's feedback on one item; errors change nothing."""
    if not round_is_open(round_):
        raise RoundClosed
    if link_id not in _link_ids(round_.definition):
        return Saved(None, {"link_id": _("This item is not in the version under review.")})
    values: dict = {}
    errors: dict[str, str] = {}
    for name in RATINGS:
        values[name], error = _rating(data, name)
        if error:
            errors[name] = error
    values["comment"] = (data.get("comment") or "").strip()
    values["suggestion"] = (data.get("suggestion") or "").strip()
    if errors:
        return Saved(None, errors)
    with transaction.atomic():
        # get_or_create under the unique constraint: two identical posts end on the same row.
        row, _created = ItemFeedback.objects.select_for_update().get_or_create(
            round=round_, reviewer=reviewer, link_id=link_id, defaults=values
        )
        if not _created:
            for key, value in values.items():
                setattr(row, key, value)
            row.save()
    return Saved(row)


def review_submit(*, round_: ReviewRound, reviewer, data) -> Saved:
    """Create or update the reviewer's overall review; approval records the hash that was read."""
    if not round_is_open(round_):
        raise RoundClosed
    errors: dict[str, str] = {}
    burden, error = _rating(data, "burden")
    if error:
        errors["burden"] = error
    timing = (data.get("timing") or "").strip()
    if timing and timing not in ReviewSubmission.Timing.values:
        errors["timing"] = _("Choose one of the options shown.")
    if errors:
        return Saved(None, errors)
    approved = data.get("approved") in ("on", "1", "true", "yes")
    values = {
        "burden": burden,
        "timing": timing if round_.includes_schedule else "",
        "comments": (data.get("comments") or "").strip(),
        "notice_comments": (data.get("notice_comments") or "").strip() if round_.includes_notice else "",
        "approved": approved,
        "approved_hash": round_.content_hash if approved else "",
        "submitted_at": timezone.now(),
    }
    with transaction.atomic():
        row, created = ReviewSubmission.objects.select_for_update().get_or_create(
            round=round_, reviewer=reviewer, defaults=values
        )
        if not created:
            for key, value in values.items():
                setattr(row, key, value)
            row.save()
    return Saved(row)


# --- what the reviewer reads ---------------------------------------------------------------------

OPERATORS = {"=": "=", "!=": "≠", "<": "<", ">": ">", "<=": "≤", ">=": "≥"}


def _nodes_by_id(definition: dict) -> dict[str, dict]:
    out: dict[str, dict] = {}

    def walk(nodes: list[dict]) -> None:
        for node in nodes:
            if node.get("linkId"):
                out[node["linkId"]] = node
            walk(node.get("item", []))

    walk(definition.get("item", []))
    return out


def condition_text(definition: dict, node: dict, language: str) -> str:
    """In plain words, when a conditional item is shown: 'Shown only when "X" = "Y"'."""
    conditions = node.get("enableWhen") or []
    if not conditions:
        return ""
    base = definition.get("language", language)
    nodes = _nodes_by_id(definition)
    parts = []
    for cond in conditions:
        question = nodes.get(cond.get("question", ""), {})
        label = fhir.localized(question, "text", language, base) or cond.get("question", "")
        expected = next((v for k, v in cond.items() if k.startswith("answer")), None)
        operator = cond.get("operator", "=")
        if operator == "exists":
            parts.append(
                _("“%(q)s” is answered") % {"q": label} if expected else _("“%(q)s” is not answered") % {"q": label}
            )
            continue
        if isinstance(expected, dict):
            code = str(expected.get("code", ""))
            expected = next(
                (
                    fhir.localized(o.get("valueCoding", {}), "display", language, base)
                    for o in question.get("answerOption", [])
                    if fhir.option_code(o) == code
                ),
                code,
            )
        elif isinstance(expected, bool):
            expected = _("Yes") if expected else _("No")
        parts.append(f"“{label}” {OPERATORS.get(operator, operator)} “{expected}”")
    joiner = _(" or ") if node.get("enableBehavior") == "any" else _(" and ")
    return _("Shown only when %(conditions)s") % {"conditions": joiner.join(parts)}


@dataclass
class ReviewItem:
    """One item as the patient sees it, with its condition and this reviewer's feedback."""

    field: rendering.Field
    condition: str
    feedback: ItemFeedback | None


@dataclass
class ReviewPage:
    number: int
    title: str
    items: list[ReviewItem]


def review_pages(*, round_: ReviewRound, reviewer, language: str) -> list[ReviewPage]:
    """Every page of the frozen definition, every item shown (hidden-by-condition ones too)."""
    definition = round_.definition
    nodes = _nodes_by_id(definition)
    feedback = {f.link_id: f for f in ItemFeedback.objects.filter(round=round_, reviewer=reviewer)}
    pages = []
    for number, page in enumerate(rendering.build_pages(definition, language), start=1):
        items = []
        for f in rendering.page_fields(definition, page, language, {}):
            node = nodes.get(f.link_id, {})
            condition = condition_text(definition, node, language) if f.link_id else ""
            f.shown = True  # reviewers review everything; the condition is said in words instead
            f.conditions = ""
            items.append(ReviewItem(field=f, condition=condition, feedback=feedback.get(f.link_id)))
        pages.append(ReviewPage(number=number, title=page.title, items=items))
    return pages


def notice_of(round_: ReviewRound, language: str) -> ConsentNotice | None:
    """The study's current information notice in this language (else any language), if the round covers it."""
    if not round_.includes_notice:
        return None
    notices = ConsentNotice.objects.filter(study_id=round_.questionnaire.study_id).order_by("-created_at", "-id")
    return notices.filter(language=language).first() or notices.first()


def _units(n: int, unit: str) -> str:
    if unit == Timepoint.Unit.HOURS:
        return _("%(n)s hour(s)") % {"n": n}
    return _("%(n)s day(s)") % {"n": n}


def schedule_lines(round_: ReviewRound) -> list[str]:
    """The study's timepoints in plain words, if the round covers the schedule."""
    if not round_.includes_schedule:
        return []
    lines = []
    for tp in Timepoint.objects.filter(study_id=round_.questionnaire.study_id).order_by("order", "offset"):
        if tp.offset:
            when = _("%(after)s after %(anchor)s") % {
                "after": _units(tp.offset, tp.unit),
                "anchor": tp.get_anchor_display(),
            }
        else:
            when = _("at %(anchor)s") % {"anchor": tp.get_anchor_display()}
        line = _("%(label)s: %(when)s, open for %(window)s") % {
            "label": tp.label,
            "when": when,
            "window": _units(tp.window, tp.unit),
        }
        if tp.repeat_count > 1:
            line += _(", repeated %(count)s times every %(every)s") % {
                "count": tp.repeat_count,
                "every": _units(tp.repeat_every, tp.unit),
            }
        if tp.reminders:
            line += _(", reminders after %(list)s") % {"list": ", ".join(_units(int(r), tp.unit) for r in tp.reminders)}
        lines.append(line + ".")
    return lines
