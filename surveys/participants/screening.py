"""Pre-screening: a study's eligibility questionnaire and its inclusion / exclusion rules.

Research side only. Nothing here knows or stores who answers: the answers travel between
pages in a signed cookie on the patient's own browser, and a patient who is not eligible
leaves no row anywhere. A patient who is eligible goes on to the identity domain
(patients/consent/views.py: consent, then self-enrolment), which reads the same cookie.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from surveys.answering.access import window_count
from surveys.models import ConsentNotice, EligibilityRule, Study
from surveys.questionnaires import fhir, values
from surveys.questionnaires.conditions import missing_required, prune_answers

COOKIE = "ressenti_screen"
COOKIE_SALT = "ressenti.screening"
# Long enough to read a notice and fill a form, short enough that a shared device forgets.
COOKIE_AGE = 2 * 3600


def rate_setting(name: str) -> int:
    """A limit of the public link (SCREENING_* in config/settings/base.py)."""
    return int(getattr(settings, name))


class ScreeningUnavailable(Exception):
    """The study cannot offer a public pre-screening link (the message says why)."""


# --- rules ------------------------------------------------------------------------------------------


def rule_holds(*, rule: EligibilityRule, answers: dict, definition: dict) -> bool:
    """The rule's comparison, with the meaning of a display condition on that question (values.compare):
    its answer text is read as the question's type (a number, a date, yes/no, an option code)."""
    node = fhir.items_by_link(definition).get(rule.question)
    return values.compare(values.kind_of(node), answers.get(rule.question), rule.operator, rule.answer.strip())


def eligibility_evaluate(*, rules: Iterable[EligibilityRule], answers: dict, definition: dict) -> bool:
    """Eligible = every inclusion rule holds and no exclusion rule holds.

    As in display conditions (FHIR R4), an unanswered (or hidden) question meets no comparison but
    "!=": an inclusion rule "age >= 18" on it fails, an exclusion rule "pregnant = yes" does not apply.
    """
    rules = list(rules)
    inclusions = [r for r in rules if r.kind == EligibilityRule.Kind.INCLUSION]
    exclusions = [r for r in rules if r.kind == EligibilityRule.Kind.EXCLUSION]
    return all(rule_holds(rule=r, answers=answers, definition=definition) for r in inclusions) and not any(
        rule_holds(rule=r, answers=answers, definition=definition) for r in exclusions
    )


def study_eligibility(*, study: Study, answers: dict) -> bool:
    """Evaluate the study's rules on answers to its eligibility questionnaire (hidden items dropped)."""
    definition = study.screening_version.definition if study.screening_version_id else {}
    return eligibility_evaluate(
        rules=study.eligibility_rules.all(), answers=prune_answers(definition, answers), definition=definition
    )


def rule_problems(*, study: Study | None, question: str, operator: str, answer: str) -> dict[str, str]:
    """What is wrong with a rule, by field (the admin form shows them). Writes nothing."""
    problems: dict[str, str] = {}
    if operator not in values.OPERATORS:
        problems["operator"] = _("Unknown operator %(op)s (use one of %(ops)s).") % {
            "op": operator,
            "ops": " ".join(values.OPERATORS),
        }
    elif operator != "exists" and not answer.strip():
        problems["answer"] = _("Give the answer to compare with.")
    if study is not None:
        if not study.screening_version_id:
            problems["question"] = _("This study has no eligibility questionnaire yet: choose one on the study first.")
        else:
            questions = {
                node["linkId"]: node
                for node in fhir.iter_items(study.screening_version.definition.get("item", []))
                if node.get("type") not in ("group", "display")
            }
            if question not in questions:
                problems["question"] = _("%(code)s is not a question of the eligibility questionnaire (%(known)s).") % {
                    "code": question,
                    "known": ", ".join(questions) or "—",
                }
            elif operator in ("=", "!=") and questions[question].get("answerOption"):
                codes = [fhir.option_code(o) for o in questions[question]["answerOption"]]
                if answer.strip() not in codes:
                    problems["answer"] = _("%(answer)s is not an option code of %(code)s (%(known)s).") % {
                        "answer": answer,
                        "code": question,
                        "known": ", ".join(codes),
                    }
    return problems


# --- the public link --------------------------------------------------------------------------------


def screening_link_problems(*, study: Study) -> list[str]:
    problems = []
    if not study.screening_version_id:
        problems.append(_("choose an eligibility questionnaire first"))
    if study.pseudonym_mode == Study.PseudonymMode.EXTERNAL_ID:
        problems.append(_("pseudonyms derived from an identifier need an investigator to enrol"))
    if not ConsentNotice.objects.filter(study=study).exists():
        problems.append(_("add an information notice first"))
    return problems


def screening_link_open(*, study: Study) -> str:
    """Give the study a public pre-screening token (keeps an existing one) and return it."""
    problems = screening_link_problems(study=study)
    if problems:
        raise ScreeningUnavailable(
            _("%(study)s: %(problems)s.") % {"study": study.code, "problems": "; ".join(problems)}
        )
    if not study.screening_token:
        study.screening_token = secrets.token_urlsafe(12)
        study._change_reason = "pre-screening link created"
        study.save(update_fields=["screening_token"])
    return study.screening_token


def screening_link_close(*, study: Study) -> None:
    if study.screening_token:
        study.screening_token = ""
        study._change_reason = "pre-screening link removed"
        study.save(update_fields=["screening_token"])


def study_by_screening_token(token: str) -> Study | None:
    """The study behind a public pre-screening link, if it is enrolling."""
    if not token or len(token) > 32:
        return None
    return (
        Study.objects.select_related("screening_version")
        .filter(screening_token=token, status=Study.Status.ACTIVE, screening_version__isnull=False)
        .first()
    )


# --- rate limits -----------------------------------------------------------------------------------


def rate_limit_take(counters: Sequence[tuple[str, int]]) -> bool:
    """Count one more use on each (cache key, limit) and say whether it is allowed.

    Refused when any counter already reached its limit, and then nothing is counted: a client
    over its own limit does not use up the study's allowance for everyone else. A window starts
    at a counter's first use (cache.add) and is never extended (incr keeps the expiry)."""
    window = rate_setting("SCREENING_RATE_WINDOW")
    keys = [f"screening:rate:{key}" for key, _limit in counters]
    current = cache.get_many(keys)
    if any((current.get(key) or 0) >= limit for key, (_name, limit) in zip(keys, counters, strict=True)):
        return False
    # Two requests racing past the read above: the counter itself decides.
    counts = [window_count(key, window=window) for key in keys]
    return all(count <= limit for count, (_name, limit) in zip(counts, counters, strict=True))


def screening_submit_allowed(*, study: Study, ip: str) -> bool:
    """One more eligibility questionnaire sent from this address to this study."""
    return rate_limit_take(
        [
            (f"submit:ip:{ip}", rate_setting("SCREENING_MAX_SUBMITS_PER_IP")),
            (f"submit:study:{study.pk}", rate_setting("SCREENING_MAX_SUBMITS_PER_STUDY")),
        ]
    )


def screening_code_send_allowed(*, study: Study, ip: str, contact_digest: str) -> bool:
    """One more one-time code sent from this address, for this study, to this number or address
    (named by its keyed digest, so the cache holds no contact data in its keys)."""
    return rate_limit_take(
        [
            (f"code:ip:{ip}", rate_setting("SCREENING_MAX_CODES_PER_IP")),
            (f"code:study:{study.pk}", rate_setting("SCREENING_MAX_CODES_PER_STUDY")),
            (f"code:contact:{contact_digest}", rate_setting("SCREENING_MAX_CODES_PER_CONTACT")),
        ]
    )


# --- state kept on the patient's browser ----------------------------------------------------------------


def state_load(*, cookies: dict, study: Study) -> dict:
    """The screening state of this study from the signed cookie: {} when absent, stale or forged.

    Keys: "a" answers by linkId, "n" first page not yet done; "ok" once eligible; "consent"
    (notice, method, typed name) once consent is given; "done"/"link" after enrolment.
    """
    raw = cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        state = signing.loads(raw, salt=COOKIE_SALT, max_age=COOKIE_AGE)
    except signing.BadSignature:
        return {}
    if not isinstance(state, dict) or state.get("s") != study.pk:
        return {}
    return state


def state_save(
    response: HttpResponse, request: HttpRequest, study: Study, token: str, state: dict[str, Any]
) -> HttpResponse:
    """`response` carrying the screening state, signed, in a cookie only this study's screening pages read."""
    response.set_cookie(
        COOKIE,
        signing.dumps({**state, "s": study.pk}, salt=COOKIE_SALT, compress=True),
        max_age=COOKIE_AGE,
        # The path covers /e/<token>/... : the consent and enrolment pages read the same state.
        path=reverse("surveys:screening", args=[token]),
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


def missing_answers(*, definition: dict, answers: dict) -> list[str]:
    """linkIds of required questions shown and unanswered (as services.response_missing)."""
    return missing_required(definition, answers)
