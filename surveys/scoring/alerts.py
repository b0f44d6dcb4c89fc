"""Alert rules on answers and scores: checked at publish, evaluated at submit, e-mailed once.

The rules are data frozen in each version's definition (docs/scoring.md, `fhir.rules_of`):

* `alert_problems` lists what stops them from being published, naming the rule and the item or score;
* `alerts_fired` is the pure evaluation over (definition, answers, scores);
* `alerts_raise` runs inside the submit transaction: one Alert row per rule and response (a unique
  constraint backs the row lock of response_submit), and after commit a task to e-mail them;
* `alerts_notify` e-mails the study's investigators. Exactly once: each alert is claimed by a
  conditional UPDATE of `notified_at` before anything is sent, so a retried task, a second worker or
  the sweep find nothing left to send; a send that fails puts the claim back for the next sweep.
  A worker killed between the claim and the send leaves the alert marked notified without an
  e-mail (its outcome is unknown, and sending twice is what we refuse); the study's alert page
  lists every open alert whatever happened to the e-mail.

The e-mail names the study, the questionnaire, the rule and the pseudonym, never an answer or a score.
It is bilingual (the study's languages, its fallback language first): staff accounts carry no
language of their own, and the same message goes to every investigator of the study.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from surveys.models import Alert, Item, Response, StudyMembership
from surveys.questionnaires import fhir, values
from surveys.questionnaires.published import published_definition
from surveys.questionnaires.validation import LANGUAGE_NAMES, Problem
from surveys.rules import DATA_MANAGER, INVESTIGATOR, NOBODY, register_model_permissions, register_site_scope, roles_for
from surveys.scoring import formats
from surveys.staff.selectors import rows_for_user

logger = logging.getLogger(__name__)

T = Item.Type

# Investigators act on alerts (acknowledge); data managers, who read the responses anyway, may see them.
register_model_permissions(
    "surveys",
    {
        "alert": {"view": (INVESTIGATOR, DATA_MANAGER), "add": NOBODY, "change": (INVESTIGATOR,), "delete": NOBODY},
    },
)
# An alert belongs to its participant's site: a member limited to a site sees that site's alerts only.
register_site_scope(Alert, study_path="study", site_path="participant__site")


# --- reading the rules -------------------------------------------------------------------------


def alert_rules(definition: dict) -> list[dict]:
    """The alert rules of a definition (a list of dicts; anything else is ignored here)."""
    rules = fhir.rules_of(definition).get("alerts", [])
    return [rule for rule in rules if isinstance(rule, dict)] if isinstance(rules, list) else []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _label(rule: dict, language: str) -> str:
    label = rule.get("label")
    if isinstance(label, dict):
        return str(label.get(language) or next((v for v in label.values() if v), "") or rule.get("code", ""))
    return str(label or rule.get("code", ""))


def rule_label(definition: dict, code: str, language: str) -> str:
    """The label of alert rule `code` in `language` (its code when the rule is gone or unlabelled)."""
    for rule in alert_rules(definition):
        if rule.get("code") == code:
            return _label(rule, language)
    return code


# --- publish checks ------------------------------------------------------------------------------


def _lang_name(code: str) -> str:
    return str(LANGUAGE_NAMES.get(code, code))


VALUE_KINDS = frozenset({"exists_value", "needs_value"})


class _Refused:
    """The format refusals (formats.refusals) under one rule or test, their loc made relative to it."""

    def __init__(self, refusals: list[formats.Refusal]) -> None:
        self.refusals = refusals

    def at(self, *path: str | int) -> _Refused:
        """The refusals under `path`."""
        return _Refused(
            [
                formats.Refusal(r.loc[len(path) :], r.kind, r.message)
                for r in self.refusals
                if r.loc[: len(path)] == path
            ]
        )

    def message(self, *path: str | int, exact: bool = False, context: dict | None = None) -> str | None:
        """The message of the first refusal under `path` (exactly at it with `exact`), or None.
        A test's value for its operator is checked in code (VALUE_KINDS): not taken from here."""
        for refusal in self.at(*path).refusals:
            if refusal.message is not None and (refusal.loc == () or not exact) and refusal.kind not in VALUE_KINDS:
                return str(refusal.message) % (context or {})
        return None

    def at_itself(self) -> bool:
        """Whether the value itself is refused (not only something inside it)."""
        return any(r.loc == () for r in self.refusals)

    def unknown(self, context: dict) -> str | None:
        """One message naming every unknown key here, sorted, or None."""
        keys = sorted(str(r.loc[0]) for r in self.refusals if r.kind == formats.UNKNOWN_KEY and len(r.loc) == 1)
        found = next((r.message for r in self.refusals if r.kind == formats.UNKNOWN_KEY and len(r.loc) == 1), None)
        return str(found) % {**context, "keys": ", ".join(keys)} if found is not None else None


def _test_problems(test: Any, refused: _Refused, add, items: dict[str, dict], scores: dict[str, dict]) -> None:
    """Problems of one test or of an any/all group (recursive). The format's refusals come from
    formats.Comparison/AnyOf/AllOf; here are the checks against the definition."""
    kind = formats.when_kind(test)
    refused = refused.at(kind)
    shape = refused.message(exact=True)  # not an object, or not one target
    if shape is not None:
        add(shape)
        return
    if kind != "test":
        context = {"key": kind}
        for message in (refused.unknown(context), refused.message(kind, exact=True, context=context)):
            if message is not None:
                add(message)
        if not refused.at(kind).at_itself():
            for number, sub in enumerate(test[kind]):
                _test_problems(sub, refused.at(kind, number), add, items, scores)
        return
    operator, value = test.get("operator"), test.get("value")
    context = {"op": operator, "ops": " ".join(values.OPERATORS), "value": value}
    unknown = refused.unknown(context)
    if unknown is not None:
        add(unknown)
    bad_operator = refused.message("operator", context=context)
    if bad_operator is not None:
        add(bad_operator)
        return
    # Not taken from the refusals: pydantic skips this check of the model when a key is unknown.
    refusal = formats.value_refusal(operator, value, given="value" in test)
    if refusal is not None:
        add(str(formats.Comparison.says_for[refusal]) % context)
    exists = operator == "exists" or refusal == "needs_value"  # nothing to compare: only the target is checked
    if "score" in test:
        _score_test_problems(str(test["score"]), operator, value, exists, add, scores)
    else:
        _answer_test_problems(str(test["answer"]), operator, value, exists, add, items)


def _score_test_problems(name: str, operator: str, value: Any, exists: bool, add, scores: dict[str, dict]) -> None:
    score = scores.get(name)
    if score is None:
        add(_("tests score %(name)s, which does not exist") % {"name": name})
    elif exists:
        pass
    elif isinstance(value, str):
        bands = {str(b.get("code")) for b in score.get("bands", []) if isinstance(b, dict)}
        if operator not in ("=", "!="):
            add(
                _("score %(name)s: a band code is compared with = or != only, not %(op)s")
                % {"name": name, "op": operator}
            )
        elif value not in bands:
            add(_("score %(name)s has no band %(band)s") % {"name": name, "band": value})
    elif not _is_number(value):
        add(_("score %(name)s is compared with %(value)s, which is not a number") % {"name": name, "value": value})


def _answer_test_problems(link_id: str, operator: str, value: Any, exists: bool, add, items: dict[str, dict]) -> None:
    node = items.get(link_id)
    if node is None:
        add(_("tests item %(code)s, which does not exist") % {"code": link_id})
        return
    kind = fhir.item_type(node)
    if kind == T.DISPLAY or node.get("type") == "group":
        add(_("tests item %(code)s, which is not a question") % {"code": link_id})
    elif exists:
        pass
    elif kind in values.CHOICE_TYPES:
        _choice_test_problems(link_id, node, operator, value, add)
    elif kind == T.YES_NO:
        if operator not in ("=", "!=") or not isinstance(value, bool):
            add(_("item %(code)s is a yes/no question: test it with = or != and true or false") % {"code": link_id})
    elif kind in values.NUMBER_TYPES:
        if not _is_number(value):
            add(_("item %(code)s is a number, but is compared with %(value)s") % {"code": link_id, "value": value})
    elif kind == T.DATE:
        if not isinstance(value, str) or len(values.to_date(value) or ()) != 3:
            add(
                _("item %(code)s is a date: compare it with a date written YYYY-MM-DD, not %(value)s")
                % {"code": link_id, "value": value}
            )
    elif kind == T.TIME:
        if not isinstance(value, str) or values.to_seconds(value) is None:
            add(
                _("item %(code)s is a time: compare it with a time written HH:MM, not %(value)s")
                % {"code": link_id, "value": value}
            )
    elif operator not in ("=", "!="):  # short and long texts
        add(
            _("item %(code)s is a text: operator %(op)s cannot compare it (use =, != or exists)")
            % {"code": link_id, "op": operator}
        )
    elif not isinstance(value, str):
        add(_("item %(code)s is a text, but is compared with %(value)s") % {"code": link_id, "value": value})


def _choice_test_problems(link_id: str, node: dict, operator: str, value: Any, add) -> None:
    options = node.get("answerOption", [])
    if isinstance(value, str):
        codes = {fhir.option_code(o) for o in options}
        if operator not in ("=", "!="):
            add(
                _(
                    "item %(code)s: an option code is compared with = or != only, not %(op)s "
                    "(compare a number to test the option score)"
                )
                % {"code": link_id, "op": operator}
            )
        elif value not in codes:
            add(_("item %(code)s does not offer option %(option)s") % {"code": link_id, "option": value})
    elif _is_number(value):
        if not any(values.option_score(o) is not None for o in options):
            add(
                _("item %(code)s is compared with the number %(value)s, but its options have no score")
                % {"code": link_id, "value": value}
            )
    else:
        add(
            _("item %(code)s is compared with %(value)s: give an option code (text) or a score (number)")
            % {"code": link_id, "value": value}
        )


def alert_problems(definition: dict, *, languages: list[str]) -> list[Problem]:
    """Every problem of the alert rules, each naming the rule and the item or score it tests.

    The format (keys, types, allowed values) is declared in formats.py; here are the checks against
    the definition (items, scores, bands, options, labels and safety message per language) and
    between rules (unique codes).
    """
    raw = fhir.rules_of(definition)
    if not isinstance(raw, dict) or "alerts" not in raw:
        return []
    rules = raw["alerts"]
    refused = _Refused(formats.refusals(formats.Rules, {"alerts": rules})).at("alerts")
    not_a_list = refused.message(exact=True)
    if not_a_list is not None:
        return [Problem(_("alerts"), not_a_list)]
    items = fhir.items_by_link(definition)
    score_rules = raw.get("scores", [])
    scores = (
        {str(s.get("name")): s for s in score_rules if isinstance(s, dict)} if isinstance(score_rules, list) else {}
    )
    problems: list[Problem] = []
    seen: set[str] = set()
    for number, rule in enumerate(rules, start=1):
        code = rule.get("code") if isinstance(rule, dict) else None
        where = _("alert %(code)s") % {"code": code} if code else _("alert #%(n)s") % {"n": number}
        messages = _rule_problems(
            rule, refused.at(number - 1), definition, items, scores, languages=languages, seen=seen
        )
        problems.extend(Problem(where, message) for message in messages)
    return problems


def _rule_problems(
    rule: Any,
    refused: _Refused,
    definition: dict,
    items: dict[str, dict],
    scores: dict[str, dict],
    *,
    languages: list[str],
    seen: set[str],
) -> list[str]:
    """Problems of one alert rule: its format's refusals, each followed by its checks against the definition."""
    if not isinstance(rule, dict):
        return [str(formats.AlertRule.not_an_object)]
    messages: list[str] = []
    bad_code = refused.message("code")
    if bad_code is not None:
        messages.append(bad_code)
    elif rule["code"] in seen:
        messages.append(
            _("code %(code)s is used by more than one alert (codes must be unique)") % {"code": rule["code"]}
        )
    else:
        seen.add(rule["code"])
    bad_label = refused.message("label")
    messages += [m for m in (refused.unknown({}), bad_label) if m is not None]
    if bad_label is None:
        messages += [
            _("label is missing in %(lang)s") % {"lang": _lang_name(lang)}
            for lang in languages
            if not str(rule["label"].get(lang) or "").strip()
        ]
    bad_flag = refused.message("safety_message")
    if bad_flag is not None:
        messages.append(bad_flag)
    elif rule.get("safety_message", False):
        messages += [
            _("shows the safety message, but the questionnaire has none in %(lang)s") % {"lang": _lang_name(lang)}
            for lang in languages
            if not fhir.extension_text(definition, fhir.EXT_SAFETY, lang, exact=True).strip()
        ]
    if "when" not in rule:
        messages += [m for m in (refused.message("when"),) if m is not None]
    else:
        _test_problems(rule["when"], refused.at("when"), messages.append, items, scores)
    return messages


# --- evaluation --------------------------------------------------------------------------------


def _test_fires(test: Any, definition_items: dict[str, dict], answers: dict, scores: dict) -> bool:
    if not isinstance(test, dict):
        return False
    if "any" in test:
        return isinstance(test["any"], list) and any(
            _test_fires(t, definition_items, answers, scores) for t in test["any"]
        )
    if "all" in test:
        return (
            isinstance(test["all"], list)
            and bool(test["all"])
            and all(_test_fires(t, definition_items, answers, scores) for t in test["all"])
        )
    operator = test.get("operator")
    value = test.get("value")
    if "score" in test:
        result = scores.get(str(test["score"]))
        result = result if isinstance(result, dict) else {}
        number = result.get("value")
        if operator == "exists":
            return values.compare(T.DECIMAL, number, "exists", value)
        if isinstance(value, str):
            band = result.get("band")
            return values.compare(T.SINGLE, band if number is not None else None, operator, value)
        if not _is_number(value):
            return False
        return values.compare(T.DECIMAL, number if _is_number(number) else None, operator, value)

    link_id = str(test.get("answer"))
    node = definition_items.get(link_id)
    answer = answers.get(link_id)
    kind = values.kind_of(node)
    if operator != "exists" and kind in values.CHOICE_TYPES and _is_number(value):
        # A number tested on a choice compares the option score (summed over a multiple choice).
        return values.compare(T.DECIMAL, values.as_number(node, answer), operator, value)
    return values.compare(kind, answer, str(operator), value)


def alerts_fired(definition: dict, answers: dict, scores: dict) -> list[str]:
    """Codes of the alert rules these answers and scores fire, in rule order. Pure: reads nothing else.

    A rule that is malformed (an old or imported version) fires nothing rather than failing a submit.
    """
    items = fhir.items_by_link(definition)
    fired: list[str] = []
    for rule in alert_rules(definition):
        code = rule.get("code")
        if (
            isinstance(code, str)
            and code
            and code not in fired
            and _test_fires(rule.get("when"), items, answers or {}, scores or {})
        ):
            fired.append(code)
    return fired


# --- raising -------------------------------------------------------------------------------------


def _enqueue_notify(alert_ids: list[int]) -> None:
    from surveys.tasks import alerts_notify_task  # tasks import this module

    try:
        # The queue of the send tasks (MESSAGES_SEND_QUEUE; empty: the default queue): an alert is one.
        alerts_notify_task.apply_async(args=[alert_ids], queue=settings.MESSAGES_SEND_QUEUE or None)
    except Exception:  # noqa: BLE001 - the broker is down: the submit stands, the sweep sends later
        logger.exception("alerts %s: the e-mail task could not be enqueued; the sweep will send it", alert_ids)


def alerts_raise(*, response: Response) -> list[Alert]:
    """Create the alerts this completed response fires (once per rule); called inside the submit transaction.

    Returns the alerts created now (none on a second call). Their e-mail is enqueued when the
    transaction commits, so no task runs for a submit that rolled back.
    """
    codes = alerts_fired(published_definition(response.version_id), response.answers, response.scores)
    if not codes:
        return []
    study_id = response.assignment.participant.study_id
    created: list[Alert] = []
    for code in codes:
        # get_or_create retries the read after an IntegrityError (savepoint): the unique constraint
        # decides if two submits ever raced past the response's row lock.
        alert, is_new = Alert.objects.get_or_create(
            response=response,
            rule=code,
            defaults={"study_id": study_id, "participant_id": response.assignment.participant_id},
        )
        if is_new:
            created.append(alert)
    if created:
        ids = [a.pk for a in created]
        transaction.on_commit(lambda: _enqueue_notify(ids))
        logger.info("response %s raised alerts %s", response.pk, ", ".join(a.rule for a in created))
    return created


# --- e-mail ------------------------------------------------------------------------------------


def alert_recipients(*, study_id: int, site_id: int | None) -> list[str]:
    """E-mail addresses of the study's active investigators who may see an alert of that site:
    members for every site, and those limited to this one."""
    reach = Q(site__isnull=True) | Q(site_id=site_id) if site_id is not None else Q(site__isnull=True)
    user_ids = StudyMembership.objects.filter(reach, study_id=study_id, role=INVESTIGATOR).values("user_id")
    emails = get_user_model().objects.filter(pk__in=user_ids, is_active=True).exclude(email="")
    return sorted({e.strip() for e in emails.values_list("email", flat=True) if e and e.strip()})


def alerts_page_url(study_code: str) -> str:
    return settings.SITE_URL + reverse("surveys:alerts", args=[study_code])


def _email_languages(study) -> list[str]:
    languages = [lang for lang in (study.languages or []) if lang in dict(settings.LANGUAGES)]
    first = study.fallback_language if study.fallback_language in languages else (languages or ["fr"])[0]
    return [first] + [lang for lang in languages if lang != first]


def alert_subject(study) -> str:
    """Nothing clinical in a subject line (it shows on lock screens and in shared inboxes): no rule, no code."""
    with translation.override(_email_languages(study)[0]):
        return _("Ressenti: an alert needs your attention — study %(code)s") % {"code": study.code}


def alert_email(*, alerts: list[Alert], recipient: str) -> EmailMultiAlternatives:
    """The e-mail, to one investigator, for the alerts of one response: study, questionnaire, rules,
    pseudonym and a link. Nothing of the answers or scores: the rules' labels are the designer's words,
    not the patient's. A trace left by an erasure (response None) names only the rule codes."""
    first = alerts[0]
    response = first.response
    study = first.study
    definition = response.version.definition if response is not None else None
    participant = response.assignment.participant if response is not None else first.participant
    pseudonym = participant.pseudonym if participant is not None else "—"
    local = timezone.localtime(first.created_at, ZoneInfo(study.time_zone))
    parts_text, parts_html = [], []
    for language in _email_languages(study):
        with translation.override(language):
            if definition is not None:
                questionnaire = (
                    fhir.localized(definition, "title", language, definition.get("language", language))
                    or response.version.questionnaire.code
                )
                rules = [{"code": a.rule, "label": rule_label(definition, a.rule, language)} for a in alerts]
            else:
                questionnaire = _("(response erased at the patient's request)")
                rules = [{"code": a.rule, "label": a.rule} for a in alerts]
            context = {
                "language": language,
                "study": study,
                "pseudonym": pseudonym,
                "questionnaire": questionnaire,
                "rules": rules,
                "raised_at": local.strftime("%Y-%m-%d %H:%M"),
                "time_zone": study.time_zone,
                "url": alerts_page_url(study.code),
            }
            parts_text.append(render_to_string("messages/alerts/alert_email.txt", context).strip())
            parts_html.append(render_to_string("messages/alerts/alert_email_part.html", context))
    subject = alert_subject(study)
    text = "\n\n----------\n\n".join(parts_text) + "\n"
    html = render_to_string(
        "messages/alerts/alert_email.html",
        {"subject": subject, "parts": parts_html, "language": _email_languages(study)[0]},
    )
    # One recipient per message: investigators never see each other's addresses.
    email = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [recipient])
    email.attach_alternative(html, "text/html")
    return email


@dataclass
class NotifyReport:
    sent: list[int] = field(default_factory=list)  # alert ids e-mailed now
    nobody: list[int] = field(default_factory=list)  # claimed, but no investigator has an address
    failed: list[int] = field(default_factory=list)  # send failed: claim released for the sweep
    skipped: int = 0  # already notified, or claimed by another worker


def _claim(pk: int, now: datetime) -> bool:
    return Alert.objects.filter(pk=pk, notified_at__isnull=True).update(notified_at=now) == 1


def alerts_notify(*, alert_ids: Iterable[int], now: datetime | None = None) -> NotifyReport:
    """E-mail these alerts to their study's investigators, one e-mail per response; each alert at most once."""
    now = now or timezone.now()
    report = NotifyReport()
    claimed = []
    for pk in sorted({int(pk) for pk in alert_ids}):
        if _claim(pk, now):
            claimed.append(pk)
        else:
            report.skipped += 1
    rows = (
        Alert.objects.filter(pk__in=claimed)
        .select_related("study", "participant", "response__version__questionnaire", "response__assignment__participant")
        .order_by("response_id", "pk")
    )
    # One e-mail per response; traces of an erased response (response None) per participant.
    by_response: dict[tuple, list[Alert]] = {}
    for alert in rows:
        key = ("r", alert.response_id) if alert.response_id is not None else ("p", alert.participant_id)
        by_response.setdefault(key, []).append(alert)
    for group in by_response.values():
        ids = [a.pk for a in group]
        participant = (
            group[0].response.assignment.participant if group[0].response is not None else group[0].participant
        )
        try:
            recipients = alert_recipients(
                study_id=group[0].study_id, site_id=participant.site_id if participant is not None else None
            )
            if not recipients:
                # Nobody to write to: the alert page shows it; trying again every minute would change nothing.
                logger.warning(
                    "alerts %s of study %s: no investigator with an e-mail address to notify", ids, group[0].study.code
                )
                report.nobody += ids
                continue
            messages = [alert_email(alerts=group, recipient=recipient) for recipient in recipients]
            get_connection().send_messages(messages)
        except Exception:  # noqa: BLE001 - SMTP, provider or template: give the claim back, the sweep retries
            logger.exception("alerts %s: e-mail failed; released for the next sweep", ids)
            Alert.objects.filter(pk__in=ids, notified_at=now).update(notified_at=None)
            report.failed += ids
            continue
        logger.info(
            "alerts %s of %s e-mailed to %d investigator(s)",
            ids,
            getattr(participant, "pseudonym", "—"),
            len(recipients),
        )
        report.sent += ids
    return report


def alerts_unnotified(*, now: datetime, older_than: float = 60.0, limit: int = 500) -> list[int]:
    """Alerts whose e-mail never went out (broker down at commit, or a send that failed), oldest first.
    Alerts younger than `older_than` seconds are left to the task enqueued at their commit."""
    return list(
        Alert.objects.filter(notified_at__isnull=True, created_at__lte=now - timedelta(seconds=older_than))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- staff side ------------------------------------------------------------------------------------


def alerts_for_user(*, user, study_id: int | None = None) -> QuerySet[Alert]:
    """Alerts the user may see (study role, and site when the membership is limited to one)."""
    rows = Alert.objects.all() if study_id is None else Alert.objects.filter(study_id=study_id)
    return rows_for_user(rows, user=user, roles=roles_for("surveys.view_alert"))


def alert_acknowledge(*, alert: Alert, by, now: datetime | None = None) -> bool:
    """Record who acknowledged the alert and when. Once: a second acknowledgement changes nothing
    (the first one's who and when are the record) and returns False."""
    now = now or timezone.now()
    done = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by=by
    )
    alert.refresh_from_db(fields=["acknowledged_at", "acknowledged_by"])
    if done:
        logger.info("alert %s acknowledged by user %s", alert.pk, getattr(by, "pk", None))
    return bool(done)


# --- patient side ------------------------------------------------------------------------------


def response_safety_message(*, response: Response | None, language: str) -> str:
    """The questionnaire's safety message when an alert asking for it fired for this response, else ""."""
    if response is None or response.status != Response.Status.COMPLETED:
        return ""
    fired = set(Alert.objects.filter(response=response).values_list("rule", flat=True))
    if not fired:
        return ""
    definition = response.version.definition
    if not any(rule.get("safety_message") is True and rule.get("code") in fired for rule in alert_rules(definition)):
        return ""
    return fhir.safety_message(definition, language).strip()


# Phone numbers of a safety message become tel: links when they are unambiguous. Not inside a word,
# a date, a time or a decimal (15h, 15/03, 18,5), and only these shapes: an international number,
# a French ten-digit number, a European 116 xxx line, a French 3xxx short number and the emergency
# numbers (15, 17, 18, 112, 114, 115, 119; 999 and 911 for visitors).
PHONE_RE = re.compile(
    r"""(?<![\w+/:.,])
    (?:
      \+\d{1,3}(?:[ .-]?\d){6,12}
    | 0[1-9](?:[ .-]?\d{2}){4}
    | 116[ .]?\d{3}
    | 3\d{3}
    | 1(?:12|14|15|19|5|7|8)
    | 999 | 911
    )
    (?![\w/:])(?![.,]\d)""",
    re.VERBOSE,
)


def _linkify(line: str) -> str:
    out, last = [], 0
    for match in PHONE_RE.finditer(line):
        out.append(escape(line[last : match.start()]))
        number = re.sub(r"[ .-]", "", match.group())
        out.append(format_html('<a href="tel:{}">{}</a>', number, match.group()))
        last = match.end()
    out.append(escape(line[last:]))
    return "".join(out)


def safety_message_html(text: str) -> SafeString:
    """The safety message as HTML: escaped, paragraphs and line breaks kept, phone numbers as tel: links."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    return mark_safe(
        "".join(  # noqa: S308 - every piece is escaped by _linkify
            "<p>" + "<br>".join(_linkify(line) for line in p.split("\n")) + "</p>" for p in paragraphs
        )
    )
