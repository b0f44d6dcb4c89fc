"""Corrections of submitted answers, on the patient's request: the only way a submitted answer changes.

A patient who calls the practice ("I ticked the wrong box") asks the study team to correct an answer.
An investigator or a data manager of the response's study (and site, for a site-limited membership)
types the new value and the reason; `response_correct` then, in one transaction:

* reads the new values with the patient pages' own parser (`rendering.parse_page` → `values.parse`),
  so a value the patient could not have given is refused here too, naming the question;
* applies the display conditions and the required questions as a submission does (answers of items the
  correction hides are dropped, and recorded as changed);
* writes one `ResponseCorrection` per changed answer (old value, new value, who, when, why: ICH E6(R3),
  21 CFR 11.10(e)), marks the response "corrected", recomputes its scores with `compute.scores_compute`
  and raises the alerts the new answers fire with `alerts.alerts_raise` (an alert already raised for a rule
  is not raised again; one the new answers no longer fire stays: it was seen and is acknowledged as usual).

The comparison is made with the answers read under the row lock, so a form posted twice changes
nothing the second time and writes no second row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _

from surveys.answering import rendering
from surveys.models import Alert, Response, ResponseCorrection
from surveys.questionnaires import conditions, fhir, values
from surveys.rules import CORRECT_RESPONSE
from surveys.scoring import alerts, compute

REASON_MAX_LENGTH = ResponseCorrection._meta.get_field("reason").max_length
# Key of a refusal that is not about one question.
GENERAL = ""
REASON = "reason"


class CorrectionRefused(Exception):
    """Nothing was changed; `errors` says why, by linkId (REASON for the reason, GENERAL otherwise)."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k or '-'}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class CorrectionOutcome:
    response: Response
    # One row per changed answer; empty when the posted values were already the stored ones.
    corrections: list[ResponseCorrection] = field(default_factory=list)
    # Alerts raised now by the corrected answers (not those raised before).
    alerts: list[Alert] = field(default_factory=list)


def correctable_nodes(definition: dict) -> list[dict]:
    """The questions a patient is asked, in page order: the ones a correction may change.

    Items never asked (hidden, read-only, calculated) are not answers of the patient and are left out,
    exactly as the patient pages leave them out (`rendering.build_pages`).
    """
    language = definition.get("language", "fr")
    return [
        node
        for page in rendering.build_pages(definition, language)
        for node in page.nodes
        if fhir.item_type(node) in values.QUESTION_TYPES
    ]


def _same(old: Any, new: Any) -> bool:
    if values.is_missing(old) and values.is_missing(new):
        return True
    # bool is an int in Python: True == 1 must not hide a changed answer.
    return type(old) is type(new) and old == new


def _reason_error(reason: str) -> str:
    if not reason:
        return _("Give the reason for the correction (for example the patient's call and its date).")
    if len(reason) > REASON_MAX_LENGTH:
        return _("Write at most %(n)s characters (you wrote %(m)s).") % {"n": REASON_MAX_LENGTH, "m": len(reason)}
    return ""


@transaction.atomic
def response_correct(
    *, response: Response, posted: Mapping[str, Sequence[str]], reason: str, by: AbstractBaseUser
) -> CorrectionOutcome:
    """Correct answers of a submitted response: `posted` holds, for each question the form showed, the
    strings it posted (as a patient page posts them; [] for a question left empty).

    Raises CorrectionRefused (nothing written) for a value the patient pages would refuse, a required
    question left empty, a missing reason or a response not submitted; PermissionDenied when `by` may
    not correct this response.
    """
    if not by.has_perm(CORRECT_RESPONSE, response):
        raise PermissionDenied
    locked = Response.objects.select_for_update().select_related("version").get(pk=response.pk)
    if locked.status != Response.Status.COMPLETED:
        raise CorrectionRefused({GENERAL: _("Only a submitted response can be corrected.")})
    definition = locked.version.definition
    nodes = [node for node in correctable_nodes(definition) if str(node.get("linkId", "")) in posted]
    page = rendering.PageSpec(title="", nodes=nodes)
    data = MultiValueDict({str(node["linkId"]): list(posted[str(node["linkId"])]) for node in nodes})
    parsed, errors, _raw = rendering.parse_page(page, data)
    # A value that does not parse keeps the stored one, as on the patient pages.
    evaluation = conditions.conditions_evaluate(
        definition, {**locked.answers, **{k: v for k, v in parsed.items() if k not in errors}}
    )
    # An error on a question these answers hide is moot: its answer is dropped with it.
    errors = {k: v for k, v in errors.items() if k in evaluation.enabled}
    for link_id in evaluation.missing_required():
        errors.setdefault(link_id, _("Answer this question to continue."))
    reason = (reason or "").strip()
    if problem := _reason_error(reason):
        errors[REASON] = problem
    if errors:
        raise CorrectionRefused(errors)

    old = locked.answers
    new = evaluation.pruned()
    order = [str(node.get("linkId", "")) for node in fhir.iter_items(definition.get("item", []))]
    changed = [k for k in dict.fromkeys([*order, *old, *new]) if not _same(old.get(k), new.get(k))]
    if not changed:
        return CorrectionOutcome(response=locked)

    locked.answers = new
    locked.scores = compute.scores_compute(definition, new)
    locked.source = Response.Source.CORRECTED
    locked._change_reason = "answers corrected on the patient's request"
    locked.save(update_fields=["answers", "scores", "source", "updated_at"])
    rows = ResponseCorrection.objects.bulk_create(
        ResponseCorrection(response=locked, link_id=k, old_value=old.get(k), new_value=new.get(k), reason=reason, by=by)
        for k in changed
    )
    raised = alerts.alerts_raise(response=locked)
    return CorrectionOutcome(response=locked, corrections=rows, alerts=raised)
