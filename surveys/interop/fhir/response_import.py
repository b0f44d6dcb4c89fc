"""FHIR R4 QuestionnaireResponse import: legacy answers into a timepoint, all or nothing."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirQuestionnaireResponse

from surveys.answering import rendering
from surveys.answering.submit import response_completion_apply
from surveys.interop import uploads
from surveys.interop.fhir.common import OPTION_KEYS, is_number, options_by_code, problem_where
from surveys.interop.fhir.questionnaire_export import canonical_url, questionnaire_canonical, source_canonicals
from surveys.interop.fhir.response_export import pseudonym_system, response_system
from surveys.interop.fhir.validation import fhir_errors
from surveys.models import Assignment, Item, Participant, QuestionnaireVersion, Response, Site, Study, Timepoint
from surveys.questionnaires import conditions, fhir, values
from surveys.questionnaires.validation import Problem
from surveys.scoring import compute

T = Item.Type


@dataclass
class _Row:
    where: str
    participant: Participant
    occurrence: int
    answers: dict
    authored: datetime


@dataclass
class ResponsesImport:
    """What a responses file holds and what importing it did (or would do, on a dry run)."""

    total: int = 0
    created: int = 0
    unchanged: int = 0  # imported before, with the same answers
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def _resources(content: bytes) -> tuple[list[tuple[str, dict]], list[Problem]]:
    """(where, resource) for each QuestionnaireResponse of an NDJSON file, a Bundle or one resource."""
    try:
        text = uploads.text_decode(content)
        uploads.json_depth_check(text)  # NDJSON lines too: each is balanced, so the whole text bounds them
    except uploads.UploadRefused as refused:
        return [], [Problem(refused.where, refused.message)]
    lines = text.splitlines()
    try:
        whole = uploads.json_parse(text)
    except uploads.UploadRefused:
        whole = None
    if isinstance(whole, dict):
        if whole.get("resourceType") == "Bundle":
            return [
                (_("entry %(n)s") % {"n": i}, (e or {}).get("resource") or {})
                for i, e in enumerate(whole.get("entry") or [], start=1)
            ], []
        one_line = sum(1 for line in lines if line.strip()) == 1
        return [(_("line %(n)s") % {"n": 1} if one_line else _("file"), whole)], []
    found: list[tuple[str, dict]] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = _("line %(n)s") % {"n": number}
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(
                Problem(
                    _("line %(line)s, column %(col)s") % {"line": number, "col": exc.colno},
                    _("invalid JSON: %(msg)s") % {"msg": exc.msg},
                )
            )
            continue
        except ValueError as exc:  # an integer of more than 4,300 digits
            problems.append(Problem(where, _("invalid JSON: %(msg)s") % {"msg": exc}))
            continue
        if not isinstance(resource, dict):
            problems.append(Problem(where, _("a JSON object is expected")))
            continue
        found.append((where, resource))
    return found, problems


def _flat_answers(items: list[dict], out: list[tuple[str, list[dict]]]) -> None:
    for item in items or []:
        answers = item.get("answer") or []
        out.append((str(item.get("linkId", "")), answers))
        _flat_answers(item.get("item", []), out)
        for answer in answers:
            _flat_answers(answer.get("item", []), out)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _wall_clock(value: str, time_zone: str) -> str | None:
    """The wall-clock reading in `time_zone` (the study's) of a FHIR dateTime with a time, written as a patient's
    page posts it ("YYYY-MM-DDTHH:MM[:SS]"), or None when it has no time of day.

    The reverse of values.fhir_datetime: a reading our export gave the study's offset comes back as written
    (a reading in a spring-forward gap, 02:30 on a DST morning, has no instant of its own, and before 1911
    Paris' offset was 9 min 21 s, written to the minute); another offset is moved to the study's zone."""
    found = values.read_datetime(value)
    if found is None:
        return None
    day, (hours, minutes, seconds), zone = found
    reading = f"{day.isoformat()}T{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")
    if not zone or values.fhir_datetime(reading, time_zone) == values.fhir_datetime(value, time_zone):
        return reading
    offset = (
        dt.timedelta(0)
        if zone == "Z"
        else (1 if zone[0] == "+" else -1) * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    )
    try:
        instant = dt.datetime(day.year, day.month, day.day, hours, minutes, seconds, tzinfo=dt.timezone(offset))
        local = instant.astimezone(ZoneInfo(time_zone))
    except (ValueError, OverflowError):
        return None
    return f"{local.date().isoformat()}T{local.hour:02d}:{local.minute:02d}" + (
        f":{local.second:02d}" if local.second else ""
    )


def _answer_value(node: dict, answer: dict, problem, time_zone: str = "UTC") -> Any:
    """Our stored value for one FHIR answer, or None after reporting a problem."""
    kind = fhir.item_type(node)
    keys = [k for k in answer if k.startswith("value")]
    key = keys[0] if keys else None
    value = answer.get(key) if key else None
    if kind in (T.SINGLE, T.MULTIPLE):
        options = options_by_code(node)
        code = value.get("code") if key == "valueCoding" and isinstance(value, dict) else value
        option = options.get(str(code)) if code is not None else None
        if option is None or (key not in OPTION_KEYS):
            problem(_("%(value)s is not one of the options") % {"value": code if code is not None else key})
            return None
        if key == "valueCoding":
            ours, theirs = option.get("valueCoding", {}).get("system"), value.get("system")
            if ours and theirs and ours != theirs:
                problem(
                    _("option %(code)s comes from %(theirs)s, not %(ours)s")
                    % {"code": code, "theirs": theirs, "ours": ours}
                )
                return None
        return str(code)
    if kind == T.YES_NO:
        if key != "valueBoolean":
            problem(_("a yes/no answer (valueBoolean) is expected"))
            return None
        return value
    expected = {
        T.DATE: ("valueDate", _("a full date (valueDate, YYYY-MM-DD) is expected")),
        T.TIME: ("valueTime", _("a time (valueTime, hh:mm:ss) is expected")),
        T.SHORT_TEXT: ("valueString", _("a text answer (valueString) is expected")),
        T.LONG_TEXT: ("valueString", _("a text answer (valueString) is expected")),
    }
    if kind in values.NUMBER_TYPES:
        if key not in ("valueInteger", "valueDecimal") or not is_number(value):
            problem(_("a number is expected"))
            return None
        # Written with the item's decimals (valueDecimal 0.0 as "0.00" for REDCap's number_2dp): the answer
        # format is a rule of typed text, and a number is checked by its value, with at most those decimals.
        text = values.number_text(node, Decimal(str(value)))
    elif kind == T.DATETIME:
        reading = _wall_clock(value, time_zone) if key == "valueDateTime" and isinstance(value, str) else None
        if reading is None:
            problem(_("a date and time (valueDateTime, with hours and minutes) is expected"))
            return None
        text = reading
    elif kind in expected:
        if key != expected[kind][0] or not isinstance(value, str) or (kind == T.DATE and not _ISO_DATE.match(value)):
            problem(expected[kind][1])
            return None
        text = value
    else:
        problem(_("this item takes no answer"))
        return None
    # The same reading as a patient's page: ranges, whole numbers, lengths, the stored form.
    stored, error = values.parse(node, [text])
    if error or stored is None:
        problem(f"{text}: {error or _('the answer is empty')}")
        return None
    return stored


def _shared_sources(version: QuestionnaireVersion, urls: set[str]) -> dict[str, list[str]]:
    """Source url -> codes of the study's questionnaires taken from it, for the urls another one shares."""
    if not urls:
        return {}
    questionnaire = version.questionnaire
    holders: dict[str, list[str]] = {}
    for other in questionnaire.study.questionnaires.order_by("code"):
        definitions = [other.source_definition or {}] + [
            v.definition for v in other.versions.all() if other.pk != questionnaire.pk or v.pk == version.pk
        ]
        own = questionnaire_canonical(questionnaire.study.code, other.code)
        found = {ref.partition("|")[0] for d in definitions for ref in source_canonicals(d, own)}
        for url in found & urls:
            holders.setdefault(url, []).append(other.code)
    return {url: codes for url, codes in holders.items() if len(codes) > 1}


class _ResponseChecker:
    def __init__(self, *, study: Study, timepoint: Timepoint, sites: QuerySet[Site] | None, warnings: list[Problem]):
        self.study = study
        self.timepoint = timepoint
        self.version = timepoint.version
        self.definition = self.version.definition
        self.nodes = {n["linkId"]: n for n in fhir.iter_items(self.definition.get("item", [])) if "linkId" in n}
        self.canonical = canonical_url(self.version)
        # Legacy answers from the system a questionnaire was imported from name that system's url|version
        # (kept in derivedFrom): taken only while no other questionnaire of the study comes from it too.
        self.sources: dict[str, set[str]] = {}
        for reference in source_canonicals(self.definition, self.canonical):
            url, _bar, version = reference.partition("|")
            self.sources.setdefault(url, set()).update({version} if version else set())
        self.shared_sources = _shared_sources(self.version, set(self.sources))
        self.sites = sites
        self.warned: set[str] = set()
        self.warnings = warnings  # the result's: one warning per item, whatever the number of responses

    def check(self, where: str, resource: dict, result: ResponsesImport) -> _Row | None:
        problems: list[Problem] = []

        def problem(message: str, link_id: str | None = None) -> None:
            problems.append(Problem(problem_where(where, link_id), message))

        if resource.get("resourceType") != "QuestionnaireResponse":
            problem(
                _("resourceType is %(type)s; a QuestionnaireResponse is expected")
                % {"type": resource.get("resourceType")}
            )
            result.problems += problems
            return None
        for link_id, path, message in fhir_errors(resource, FhirQuestionnaireResponse):
            problem(f"{path}: {message}", link_id)
        if problems:
            result.problems += problems
            return None
        if resource.get("status") not in ("completed", "amended"):
            problem(
                _("status %(status)s: only completed responses can be imported") % {"status": resource.get("status")}
            )
        self.check_questionnaire(str(resource.get("questionnaire", "")), problem)
        authored = parse_datetime(str(resource.get("authored", ""))) if resource.get("authored") else None
        if authored is None:
            problem(_("authored: the date and time of the answers is needed (with a time zone)"))
        elif timezone.is_naive(authored):
            problem(_("authored: give the time zone of %(value)s") % {"value": resource["authored"]})
        participant = self.participant(resource, problem)
        occurrence = self.occurrence(resource, problem)
        answers = self.answers(resource, problem)
        if answers is not None and not problems:
            shown = conditions.enabled_ids(self.definition, answers)
            for link_id in answers:
                if link_id not in shown:
                    problem(_("answered, but its display conditions hide it for these answers"), link_id)
            for link_id in conditions.missing_required(self.definition, answers):
                problem(_("a required question is not answered"), link_id)
            # Calculated items (FHIRPath) are computed again from the imported answers, as at a submit.
            answers = conditions.prune_answers(self.definition, answers)
        if problems:
            result.problems += problems
            return None
        return _Row(where=where, participant=participant, occurrence=occurrence, answers=answers, authored=authored)

    def check_questionnaire(self, reference: str, problem) -> None:
        """The response names this timepoint's questionnaire: our url|number, or its one source's url|version."""
        url, _bar, version = reference.partition("|")
        if url == self.canonical:
            if version and version != str(self.version.number):
                problem(
                    _("questionnaire %(url)s version %(version)s: the timepoint %(tp)s uses version %(ours)s")
                    % {"url": url, "version": version, "tp": self.timepoint.code, "ours": self.version.number}
                )
            return
        if url in self.shared_sources:
            problem(
                _(
                    "questionnaire %(url)s: several questionnaires of the study come from it (%(codes)s), so it "
                    "does not say which one; the timepoint %(tp)s asks %(ours)s"
                )
                % {
                    "url": url,
                    "codes": ", ".join(self.shared_sources[url]),
                    "tp": self.timepoint.code,
                    "ours": self.canonical,
                }
            )
        elif url in self.sources:
            if version and self.sources[url] and version not in self.sources[url]:
                problem(
                    _("questionnaire %(url)s version %(version)s: the timepoint %(tp)s asks version %(ours)s of it")
                    % {
                        "url": url,
                        "version": version,
                        "tp": self.timepoint.code,
                        "ours": ", ".join(sorted(self.sources[url])),
                    }
                )
        else:
            problem(
                _("questionnaire %(url)s: the timepoint %(tp)s asks %(ours)s")
                % {"url": url or "—", "tp": self.timepoint.code, "ours": self.canonical}
            )

    def participant(self, resource: dict, problem) -> Participant | None:
        identifier = ((resource.get("subject") or {}).get("identifier")) or {}
        system = pseudonym_system(self.study)
        if identifier.get("system") != system or not identifier.get("value"):
            problem(
                _("subject.identifier: the participant's pseudonym is expected, with system %(system)s")
                % {"system": system}
            )
            return None
        participants = Participant.objects.filter(study=self.study, pseudonym=identifier["value"])
        if self.sites is not None:
            participants = participants.filter(site__in=self.sites)
        participant = participants.first()
        if participant is None:
            problem(
                _("no participant %(pseudonym)s in this study (participants are never created by an import)")
                % {"pseudonym": identifier["value"]}
            )
            return None
        if participant.status == Participant.Status.WITHDRAWN:
            problem(_("participant %(pseudonym)s has withdrawn") % {"pseudonym": participant.pseudonym})
            return None
        return participant

    def occurrence(self, resource: dict, problem) -> int:
        identifier = resource.get("identifier") or {}
        if identifier.get("system") != response_system(self.study):
            return 1
        parts = str(identifier.get("value", "")).split("/")
        if len(parts) != 3 or not parts[2].isdigit():
            problem(
                _("identifier %(value)s: expected pseudonym/timepoint/occurrence") % {"value": identifier.get("value")}
            )
            return 1
        if parts[1] != self.timepoint.code:
            problem(
                _("identifier: this response was given at timepoint %(theirs)s, not %(ours)s")
                % {"theirs": parts[1], "ours": self.timepoint.code}
            )
        occurrence = int(parts[2])
        if not 1 <= occurrence <= self.timepoint.repeat_count:
            problem(
                _("identifier: occurrence %(n)s does not exist (the timepoint has %(count)s)")
                % {"n": occurrence, "count": self.timepoint.repeat_count}
            )
        return occurrence

    def answers(self, resource: dict, problem) -> dict | None:
        flat: list[tuple[str, list[dict]]] = []
        _flat_answers(resource.get("item", []), flat)
        answers: dict[str, Any] = {}
        seen: set[str] = set()
        ok = True
        for link_id, given in flat:
            node = self.nodes.get(link_id)
            if node is None:
                problem(_("linkId %(code)s is not in the questionnaire") % {"code": link_id})
                ok = False
                continue
            if link_id in seen and given:
                problem(_("answered twice"), link_id)
                ok = False
                continue
            if not given:
                continue
            seen.add(link_id)
            if conditions.not_asked(node):
                if link_id not in self.warned:
                    self.warned.add(link_id)
                    self.warnings.append(
                        Problem(
                            problem_where("", link_id),
                            _(
                                "answers to this calculated or read-only item are not imported: scores come from the "
                                "scoring rules"
                            ),
                        )
                    )
                continue
            if node.get("type") in ("group", "display"):
                problem(_("a %(type)s takes no answer") % {"type": node.get("type")}, link_id)
                ok = False
                continue
            kind = fhir.item_type(node)
            if len(given) > 1 and kind != T.MULTIPLE:
                problem(_("several answers to a question that takes one"), link_id)
                ok = False
                continue
            read = []
            for answer in given:
                value = _answer_value(
                    node, answer, lambda message, lid=link_id: problem(message, lid), self.study.time_zone
                )
                if value is None:
                    ok = False
                else:
                    read.append(value)
            if kind == T.MULTIPLE:
                order = list(options_by_code(node))
                answers[link_id] = sorted(set(read), key=order.index)
            elif read:
                answers[link_id] = read[0]
        return answers if ok else None


def responses_import(
    *,
    study: Study,
    timepoint: Timepoint,
    content: bytes,
    by: AbstractBaseUser | None,
    dry_run: bool = False,
    sites: QuerySet[Site] | None = None,
) -> ResponsesImport:
    """Load legacy answers (FHIR QuestionnaireResponses, NDJSON or a Bundle) into a timepoint: all or nothing.

    Each response is checked with fhir.resources and against the timepoint's version; the
    participant is found by pseudonym and must exist. The key is participant + timepoint +
    occurrence (from our identifier, else 1): a response imported again with the same answers
    is counted unchanged, one with other answers is a problem. `sites` limits the participants
    to those sites (a member limited to one site). Writes nothing on any problem or dry run.
    """
    result = ResponsesImport(dry_run=dry_run)
    if timepoint.study_id != study.pk:
        result.problems.append(
            Problem(
                _("timepoint"),
                _("%(tp)s is not a timepoint of %(study)s") % {"tp": timepoint.code, "study": study.code},
            )
        )
        return result
    resources, result.problems = _resources(content)
    result.total = len(resources)
    if not resources and not result.problems:
        result.problems.append(Problem(_("file"), _("no QuestionnaireResponse found")))
    checker = _ResponseChecker(study=study, timepoint=timepoint, sites=sites, warnings=result.warnings)
    rows: list[_Row] = []
    keys: dict[tuple[int, int], str] = {}
    for where, resource in resources:
        row = checker.check(where, resource, result)
        if row is None:
            continue
        key = (row.participant.pk, row.occurrence)
        if key in keys:
            result.problems.append(
                Problem(
                    where,
                    _("%(pseudonym)s, occurrence %(n)s, is already answered at %(other)s of this file")
                    % {"pseudonym": row.participant.pseudonym, "n": row.occurrence, "other": keys[key]},
                )
            )
            continue
        keys[key] = where
        rows.append(row)
    existing = {
        (a.participant_id, a.occurrence): a
        for a in Assignment.objects.filter(
            timepoint=timepoint, participant_id__in={r.participant.pk for r in rows}
        ).select_related("response")
    }
    for row in rows:
        assignment = existing.get((row.participant.pk, row.occurrence))
        response = getattr(assignment, "response", None) if assignment else None
        if response is None:
            refusal = _import_refusal(assignment)
            if refusal:
                result.problems.append(
                    Problem(
                        row.where,
                        refusal
                        % {"pseudonym": row.participant.pseudonym, "n": row.occurrence, "status": assignment.status},
                    )
                )
                row.answers = None
            continue
        if response.status != Response.Status.COMPLETED:
            result.problems.append(
                Problem(
                    row.where,
                    _("%(pseudonym)s has a response in progress for this timepoint; it is left to the participant")
                    % {"pseudonym": row.participant.pseudonym},
                )
            )
        elif response.answers != row.answers:
            result.problems.append(
                Problem(
                    row.where,
                    _(
                        "%(pseudonym)s already has a completed response for this timepoint, with other answers; "
                        "nothing is replaced"
                    )
                    % {"pseudonym": row.participant.pseudonym},
                )
            )
        else:
            result.unchanged += 1
        row.answers = None  # nothing to write for this one
    if result.problems:
        return result
    if dry_run:
        result.created = sum(1 for r in rows if r.answers is not None)
        return result
    with transaction.atomic():
        for row in rows:
            if row.answers is None:
                continue
            _response_create(timepoint=timepoint, row=row, existing=existing.get((row.participant.pk, row.occurrence)))
            result.created += 1
    return result


def _import_refusal(assignment: Assignment | None) -> str:
    """Why legacy answers may not go into this assignment ("" when they may).

    Only an assignment the patient can no longer answer takes imported answers: a new (legacy)
    one, or one whose window closed (expired). A planned or open one is the patient's to answer;
    a cancelled one was stopped on purpose (withdrawal, new schedule); a completed one is answered.
    """
    if assignment is None:
        return ""
    if assignment.status == Assignment.Status.CANCELLED:
        return _("%(pseudonym)s, occurrence %(n)s: the assignment is %(status)s; nothing is imported into it")
    if assignment.status == Assignment.Status.COMPLETED:
        return _("%(pseudonym)s, occurrence %(n)s: the assignment is %(status)s, already answered")
    if assignment.status == Assignment.Status.EXPIRED or assignment.expires_at <= timezone.now():
        return ""
    return _(
        "%(pseudonym)s, occurrence %(n)s: the assignment is %(status)s and its window still open; "
        "the participant answers it, an import may not"
    )


def _response_create(*, timepoint: Timepoint, row: _Row, existing: Assignment | None) -> Response:
    definition = timepoint.version.definition
    if existing is None:
        span = (
            timedelta(hours=timepoint.window)
            if timepoint.unit == Timepoint.Unit.HOURS
            else timedelta(days=timepoint.window)
        )
        assignment = Assignment.objects.create(
            participant=row.participant,
            timepoint=timepoint,
            occurrence=row.occurrence,
            due_at=row.authored,
            expires_at=row.authored + span,
            status=Assignment.Status.COMPLETED,
        )
    else:
        assignment = existing
    response = Response(
        assignment=assignment,
        version=timepoint.version,
        status=Response.Status.COMPLETED,
        answers=row.answers,
        scores=compute.scores_compute(definition, row.answers),
        submitted_at=row.authored,
        next_page=len(rendering.build_pages(definition, definition.get("language", "fr"))),
        source=Response.Source.IMPORTED,
    )
    response._change_reason = "imported (FHIR QuestionnaireResponse)"
    response.save()
    # As a patient's submit: the same alert rules (an imported answer that fires one is seen), and the
    # pending reminders of this assignment cancelled in the same transaction.
    response_completion_apply(response=response, assignment=assignment)
    return response
