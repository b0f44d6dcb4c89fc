"""Scores from declarative rules frozen in the definition (see docs/scoring.md, the contract).

Pure functions over a definition and its answers (`scores_compute`, `scoring_problems`), so a
draft, a published version and an imported file are scored and checked alike; plus the audited
recomputation of a version's stored scores (`scores_recompute`).

Numbers are Decimal from the option scores to the rounding, so 0.1 + 0.2 is 0.3 and a half is
rounded away from zero as scoring manuals do, not to even as float rounding would.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_update_with_history

from surveys.models import Item, QuestionnaireVersion, Response, ScoreRecomputation
from surveys.questionnaires import conditions, fhir, values
from surveys.questionnaires.validation import LANGUAGE_NAMES, Problem
from surveys.scoring import formats

T = Item.Type

# The rules' format is declared in formats.py; the score name's pattern is also what imports check.
NAME_RE = re.compile(formats.SCORE_NAME_PATTERN)

# Why a score has no value (stored in Response.scores, docs/scoring.md).
TOO_FEW_ANSWERS = "too_few_answers"
NOT_IN_LOOKUP = "not_in_lookup"
MISSING_SCORE = "missing_score"
INVALID_RULE = "invalid_rule"


# --- values ------------------------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    """A JSON number as Decimal (through its text, so 0.1 stays 0.1); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def round_half_away(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


# --- computing ---------------------------------------------------------------------------------


def _score_rules(definition: dict) -> list[dict]:
    try:
        rules = fhir.rules_of(definition)
    except (ValueError, TypeError):
        return []
    scores = rules.get("scores") if isinstance(rules, dict) else None
    return [s for s in scores if isinstance(s, dict)] if isinstance(scores, list) else []


def _one_score(
    spec: dict, *, nodes: dict[str, dict], shown: set[str], answers: dict, earlier: dict[str, Decimal | None]
) -> tuple[dict, Decimal | None]:
    """(stored result, exact value for later scores) of one score rule."""
    items = list(spec.get("items") or [])
    inputs = list(spec.get("scores") or [])
    reverse = set(spec.get("reverse") or [])
    item_values: list[Decimal | None] = []
    for link_id in items:
        node = nodes.get(link_id)
        # Only what the patient was shown counts: a hidden item's stale answer is missing, like no answer.
        value = values.as_number(node, answers.get(link_id)) if node is not None and link_id in shown else None
        if value is not None and link_id in reverse:
            bounds = values.number_range(node)
            value = bounds[0] + bounds[1] - value if bounds else None
        item_values.append(value)
    score_values = [earlier.get(name) for name in inputs]
    present = [v for v in item_values + score_values if v is not None]
    of, answered = len(items) + len(inputs), len(present)
    counts = {"answered": answered, "of": of}
    if any(v is None for v in score_values):
        # Subscales are never prorated over: a total needs every subscale it adds.
        return {"value": None, **counts, "reason": MISSING_SCORE}, None
    min_answered = spec.get("min_answered", of)
    prorated = answered < of
    if answered == 0 or answered < min_answered or (prorated and spec.get("missing", "none") != "prorate"):
        return {"value": None, **counts, "reason": TOO_FEW_ANSWERS}, None
    total = sum(present, Decimal(0))
    if spec.get("method") == "mean":
        raw = total / answered
    else:
        raw = total * of / answered if prorated else total
    value = raw
    if spec.get("lookup") is not None:
        table = {_number(pair[0]): _number(pair[1]) for pair in spec["lookup"]}
        if raw not in table:
            return {
                "value": None,
                "raw": _json_number(raw),
                **counts,
                "prorated": prorated,
                "reason": NOT_IN_LOOKUP,
            }, None
        value = table[raw]
    transform = spec.get("transform") or {}
    value = value * _number(transform.get("multiply", 1)) + _number(transform.get("add", 0))
    if spec.get("round") is not None:
        value = round_half_away(value, int(spec["round"]))
    band = next(
        (b.get("code") for b in spec.get("bands") or [] if _number(b.get("min")) <= value <= _number(b.get("max"))),
        None,
    )
    result = {"value": _json_number(value), "raw": _json_number(raw), **counts, "prorated": prorated, "band": band}
    return result, value


def scores_compute(definition: dict, answers: dict) -> dict:
    """Every score of the definition's rules for these answers: {name: {"value": ..., ...}}.

    Scores are computed in order, each able to use the exact values of those before it.
    """
    specs = _score_rules(definition)
    if not specs:
        return {}
    nodes = fhir.items_by_link(definition)
    shown = conditions.enabled_ids(definition, answers)
    earlier: dict[str, Decimal | None] = {}
    out: dict[str, dict] = {}
    for spec in specs:
        name = str(spec.get("name", ""))
        try:
            result, exact = _one_score(spec, nodes=nodes, shown=shown, answers=answers, earlier=earlier)
        except (ArithmeticError, TypeError, ValueError, KeyError, IndexError):
            # Publishing refuses such a rule (scoring_problems); a submit must still never fail on it.
            result, exact = {"value": None, "reason": INVALID_RULE}, None
        earlier[name] = exact
        out[name] = result
    return out


# --- checking the rules ------------------------------------------------------------------------


def _lang_name(code: str) -> str:
    return str(LANGUAGE_NAMES.get(code, code))


def _missing_labels(label: Any, languages: list[str]) -> list[str]:
    texts = label if isinstance(label, dict) else {}
    return [lang for lang in languages if not (isinstance(texts.get(lang), str) and texts[lang].strip())]


SCORE_FIELDS = list(formats.ScoreRule.model_fields)
BAND_FIELDS = list(formats.Band.model_fields)


class _Found:
    """Problems of one rule or band, listed in the order of its declared keys (unknown keys first),
    each key's format problem before what the definition says about it."""

    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        self.found: list[tuple[int, str, str]] = []

    def add(self, key: str, message: str) -> None:
        # Unknown keys come first, in alphabetical order; then the declared keys in their order.
        rank, order = (self.fields.index(key), "") if key in self.fields else (-1, key)
        if all(found[2] != message for found in self.found):
            self.found.append((rank, order, message))

    def messages(self) -> list[str]:
        return [found[2] for found in sorted(self.found, key=lambda found: found[:2])]


def _refused(found: _Found, refusal: formats.Refusal, depth: int, context: dict) -> None:
    """Add a format refusal at `depth` in the loc (that of the rule's or band's own keys)."""
    key = str(refusal.loc[depth - 1]) if len(refusal.loc) >= depth else ""
    if refusal.kind == formats.UNKNOWN_KEY and len(refusal.loc) == depth:
        found.add(key, _('unknown key "%(key)s"') % {"key": key})
    elif refusal.message is not None:
        found.add(key, str(refusal.message) % context)


def scoring_problems(definition: dict, *, languages: list[str]) -> list[Problem]:
    """Every problem of the scoring rules, each naming the score and the item it concerns.

    The format (keys, types, allowed values) is declared in formats.py; here are the checks against
    the definition and between scores, which a format cannot express.
    """
    top = _("scores and alerts")
    try:
        rules = fhir.rules_of(definition)
    except (ValueError, TypeError) as error:
        return [Problem(top, _("the rules are not valid JSON: %(error)s") % {"error": error})]
    if rules in ({}, None):
        return []
    if not isinstance(rules, dict):
        return [Problem(top, _('the rules must be a JSON object, such as {"scores": [...], "alerts": [...]}'))]
    refused: dict[int, list[formats.Refusal]] = {}
    unknown: list[str] = []
    not_a_list: list[Problem] = []
    for refusal in formats.refusals(formats.Rules, rules):
        if refusal.loc[:1] == ("scores",) and len(refusal.loc) > 1:
            refused.setdefault(int(refusal.loc[1]), []).append(refusal)
        elif refusal.kind == formats.UNKNOWN_KEY and len(refusal.loc) == 1:
            unknown.append(str(refusal.loc[0]))
        elif refusal.loc == ("scores",):
            not_a_list.append(Problem(top, str(refusal.message)))
    problems = [
        Problem(top, _('unknown key "%(key)s" (expected "scores" and "alerts")') % {"key": key})
        for key in sorted(unknown)
    ]
    if not_a_list:
        return problems + not_a_list
    specs = rules.get("scores", [])
    nodes = fhir.items_by_link(definition)
    names = [s.get("name") if isinstance(s, dict) else None for s in specs]
    position: dict[str, int] = {}
    for index, name in enumerate(names):
        if isinstance(name, str) and name not in position:
            position[name] = index
    for index, spec in enumerate(specs):
        name = names[index]
        where = (
            _("score %(name)s") % {"name": name}
            if isinstance(name, str) and name
            else _("score no. %(number)s") % {"number": index + 1}
        )
        messages = _score_problems(
            spec, index, refused.get(index, []), nodes=nodes, position=position, languages=languages, where=where
        )
        problems.extend(Problem(where, message) for message in messages)
    return problems


def _score_problems(
    spec: Any,
    index: int,
    refused: list[formats.Refusal],
    *,
    nodes: dict[str, dict],
    position: dict[str, int],
    languages: list[str],
    where: str,
) -> list[str]:
    """Problems of score rule no. `index`: its format's refusals, then its references."""
    if not isinstance(spec, dict):
        return [str(formats.ScoreRule.not_an_object)]
    found = _Found(SCORE_FIELDS)
    # A key whose format is refused is not looked into further (its value is not what it should be).
    bad = {str(r.loc[2]) for r in refused if len(r.loc) > 2}
    items = [] if "items" in bad else list(spec.get("items") or [])
    inputs = [] if "scores" in bad else list(spec.get("scores") or [])
    of = len(items) + len(inputs)
    context = {"name": spec.get("name"), "of": max(of, 1), "max": formats.MAX_ROUND}
    for refusal in refused:
        if refusal.loc[2:3] == ("bands",) and len(refusal.loc) > 3:
            continue  # listed with their band
        _refused(found, refusal, 3, context)

    name = spec.get("name")
    if "name" not in bad and position[name] != index:
        found.add(
            "name",
            _('name "%(name)s" is already used by score no. %(number)s') % {"name": name, "number": position[name] + 1},
        )
    for lang in _missing_labels(spec.get("label"), languages):
        found.add("label", _("label is missing in %(lang)s") % {"lang": _lang_name(lang)})
    scorable = _item_problems(found, items, nodes)
    for other in dict.fromkeys(inputs):
        if other == name:
            found.add("scores", _("uses itself as an input score"))
        elif other not in position:
            found.add("scores", _("uses score %(other)s, which does not exist") % {"other": other})
        elif position[other] > index:
            found.add("scores", _("uses score %(other)s, which comes after it (list it first)") % {"other": other})
    for other in sorted({c for c in inputs if inputs.count(c) > 1}):
        found.add("scores", _("score %(other)s is listed more than once") % {"other": other})
    if of == 0:
        found.add("scores", _('has nothing to score: list "items" or earlier "scores"'))
    for code in dict.fromkeys([] if "reverse" in bad else spec.get("reverse") or []):
        node = scorable.get(code)
        if code not in items:
            found.add("reverse", _("item %(code)s is reversed but is not among its items") % {"code": code})
        elif node is None:
            continue  # already reported with the items
        elif fhir.item_type(node) == T.MULTIPLE:
            found.add("reverse", _("item %(code)s is a multiple choice, which cannot be reversed") % {"code": code})
        elif values.number_range(node) is None:
            found.add(
                "reverse", _("item %(code)s cannot be reversed: give it a minimum and a maximum") % {"code": code}
            )
    least = spec.get("min_answered")
    if "min_answered" in spec and "min_answered" not in bad:
        if least > max(of, 1):
            found.add(
                "min_answered",
                str(_('"min_answered" must be a whole number from 1 to %(of)s (the number of its inputs)')) % context,
            )
        elif least < of and spec.get("missing", "none") == "none":
            # With "none" a score needs every input, so a lower minimum would be silently ignored.
            found.add(
                "min_answered",
                _(
                    '"min_answered" is %(least)s of %(of)s but "missing" is "none", which needs every answer: '
                    'set "missing" to "prorate" or remove "min_answered"'
                )
                % {"least": least, "of": of},
            )
    if "lookup" in spec and "lookup" not in bad:
        seen: set[Decimal | None] = set()
        for raw, _value in spec["lookup"]:
            if _number(raw) in seen:
                found.add("lookup", _("lookup: raw score %(raw)s appears more than once") % {"raw": raw})
            seen.add(_number(raw))
    bands = [r for r in refused if r.loc[2:3] == ("bands",)]
    return found.messages() + _band_problems(spec.get("bands"), bands, languages=languages)


def _item_problems(found: _Found, items: list[str], nodes: dict[str, dict]) -> dict[str, dict]:
    """Problems of the items a score names; returns those that can be scored, by code."""
    scorable: dict[str, dict] = {}
    for code in sorted({c for c in items if items.count(c) > 1}):
        found.add("items", _("item %(code)s is listed more than once") % {"code": code})
    for code in dict.fromkeys(items):
        node = nodes.get(code)
        kind = fhir.item_type(node) if node is not None else None
        if node is None:
            found.add("items", _("item %(code)s does not exist") % {"code": code})
        elif node.get("type") == "group" or kind == T.DISPLAY:
            found.add("items", _("item %(code)s is not a question") % {"code": code})
        elif kind not in values.SCORABLE_TYPES:
            found.add(
                "items",
                _("item %(code)s cannot be scored: only choices, yes/no and numbers have a value") % {"code": code},
            )
        elif kind in values.CHOICE_TYPES and not any(s is not None for s in values.option_scores(node).values()):
            found.add(
                "items", _("item %(code)s has no option scores: give its answer options a score") % {"code": code}
            )
        else:
            scorable[code] = node
    return scorable


def _band_problems(bands: Any, refused: list[formats.Refusal], *, languages: list[str]) -> list[str]:
    """Problems of a score's bands, band by band, then the bands that overlap."""
    if not isinstance(bands, list):
        return []  # refused by the format, reported with the score's keys
    problems: list[str] = []
    valid: list[tuple[str, Decimal, Decimal]] = []
    codes: set[str] = set()
    for number, band in enumerate(bands, start=1):
        mine = [r for r in refused if len(r.loc) > 3 and r.loc[3] == number - 1]
        if not isinstance(band, dict):
            problems.append(str(formats.Band.not_an_object) % {"number": number})
            continue
        code = band.get("code")
        found = _Found(BAND_FIELDS)
        for refusal in mine:
            _refused(found, refusal, 5, {})
        bad = {str(r.loc[4]) for r in mine if len(r.loc) > 4}
        if "code" not in bad:
            if code in codes:
                found.add("code", _("code is used by more than one band"))
            codes.add(code)
        low, high = band.get("min"), band.get("max")
        if not {"min", "max"} & bad:
            if _number(low) > _number(high):
                found.add("min", _("min (%(low)s) is above max (%(high)s)") % {"low": low, "high": high})
            else:
                valid.append((str(code), _number(low), _number(high)))
        for lang in _missing_labels(band.get("label"), languages):
            found.add("label", _("label is missing in %(lang)s") % {"lang": _lang_name(lang)})
        label = (
            (_("band %(code)s") % {"code": code})
            if isinstance(code, str) and code
            else (_("band no. %(number)s") % {"number": number})
        )
        problems.extend(f"{label}: {message}" for message in found.messages())
    # Bounds are inclusive: bands that share a value would give one score two severities.
    # Gaps are allowed (a value in a gap has no band).
    for i, (code_a, low_a, high_a) in enumerate(valid):
        for code_b, low_b, high_b in valid[i + 1 :]:
            if low_a <= high_b and low_b <= high_a:
                problems.append(_("bands %(a)s and %(b)s overlap (bounds are inclusive)") % {"a": code_a, "b": code_b})
    return problems


# --- reading stored scores ---------------------------------------------------------------------


def score_rows(definition: dict, scores: dict, *, language: str) -> list[dict]:
    """Stored scores made readable, in rule order: name, label, value, band label, answered, note."""
    base = definition.get("language", language)
    reasons = {
        TOO_FEW_ANSWERS: _("too few answers"),
        NOT_IN_LOOKUP: _("raw score not in the lookup table"),
        MISSING_SCORE: _("a score it combines is missing"),
        INVALID_RULE: _("the rule could not be applied"),
    }
    specs = {str(s.get("name")): s for s in _score_rules(definition)}
    ordered = [n for n in specs if n in scores] + [n for n in scores if n not in specs]
    rows = []
    for name in ordered:
        result = scores.get(name) or {}
        spec = specs.get(name, {})

        def text(labels: Any) -> str:
            labels = labels if isinstance(labels, dict) else {}
            return str(labels.get(language) or labels.get(base) or next(iter(labels.values()), "") or "")

        band = next(
            (b for b in spec.get("bands") or [] if isinstance(b, dict) and b.get("code") == result.get("band")), None
        )
        notes = []
        if result.get("prorated"):
            notes.append(_("prorated"))
        if result.get("reason"):
            notes.append(reasons.get(result["reason"], result["reason"]))
        rows.append(
            {
                "name": name,
                "label": text(spec.get("label")) or name,
                "value": result.get("value"),
                "raw": result.get("raw"),
                "band": (text(band.get("label")) or band.get("code")) if band else (result.get("band") or ""),
                "answered": f"{result.get('answered', '?')}/{result.get('of', '?')}",
                "note": ", ".join(str(n) for n in notes),
            }
        )
    return rows


# --- recomputation -----------------------------------------------------------------------------


def _normalised(scores: dict) -> str:
    return json.dumps(scores, sort_keys=True, default=str)


def scores_recompute(
    *, version: QuestionnaireVersion, by: AbstractBaseUser | None, reason: str, batch_size: int = 500
) -> ScoreRecomputation:
    """Recompute the stored scores of every completed response of `version`, audited.

    Works in batches by primary key, each batch in its own transaction with its rows locked, so
    memory and lock time stay bounded at any number of responses, and a correction saved meanwhile
    is read, never overwritten by a stale copy. The audit row is created first and its counts are
    raised in the same transaction as each batch: whatever happens, it says exactly what was written.
    Only responses whose scores change are written, each with a history row giving the reason; a
    second run changes nothing.
    """
    definition = version.definition
    audit = ScoreRecomputation.objects.create(version=version, by=by, reason=reason[:200])
    change_reason = (_("scores recomputed: %(reason)s") % {"reason": reason} if reason else _("scores recomputed"))[
        :100
    ]
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                Response.objects.select_for_update()
                .filter(version=version, status=Response.Status.COMPLETED, pk__gt=last_pk)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                break
            last_pk = batch[-1].pk
            now = timezone.now()
            changed = []
            for response in batch:
                scores = scores_compute(definition, response.answers)
                if _normalised(scores) != _normalised(response.scores or {}):
                    response.scores = scores
                    response.updated_at = now
                    response._change_reason = change_reason
                    changed.append(response)
            if changed:
                bulk_update_with_history(
                    changed,
                    Response,
                    ["scores", "updated_at"],
                    default_user=by,
                    default_change_reason=change_reason,
                    default_date=now,
                )
            ScoreRecomputation.objects.filter(pk=audit.pk).update(
                responses=F("responses") + len(batch), changed=F("changed") + len(changed)
            )
    audit.refresh_from_db()
    return audit
