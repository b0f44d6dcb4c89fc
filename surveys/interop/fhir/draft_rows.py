"""An imported draft into editable rows: what copying would lose, and the copy when nothing is lost."""

from __future__ import annotations

import copy
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from surveys.interop.fhir.common import is_number, problem_where, walk_dicts
from surveys.interop.fhir.questionnaire_export import questionnaire_canonical, source_canonicals
from surveys.models import Item, Questionnaire, QuestionnaireVersion
from surveys.questionnaires import fhir, values
from surveys.questionnaires.validation import Problem

T = Item.Type


class RowsRefused(Exception):
    def __init__(self, losses: list[Problem]):
        self.losses = losses
        super().__init__("; ".join(map(str, losses)))


_ROW_CONTROLS = {"page", "help", "slider"}
_ROW_ITEM_EXTENSIONS = {fhir.EXT_ITEM_TYPE, fhir.EXT_MIN, fhir.EXT_MAX, fhir.EXT_ITEM_CONTROL, fhir.EXT_SLIDER_STEP}
_ROW_ITEM_KEYS = {
    "linkId",
    "type",
    "text",
    "_text",
    "required",
    "repeats",
    "maxLength",
    "answerOption",
    "enableWhen",
    "enableBehavior",
    "item",
    "extension",
}
_ROW_TOP_KEYS = {
    "resourceType",
    "id",
    "meta",
    "language",
    "name",
    "title",
    "_title",
    "status",
    "subjectType",
    "item",
    "extension",
    "version",
    "date",
    "url",
    "derivedFrom",
}


def _fits(value: Any, digits: int, places: int) -> bool:
    """`value` fits a DecimalField(max_digits=digits, decimal_places=places)."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    _sign, figures, exponent = number.as_tuple()
    if not isinstance(exponent, int):
        return False
    return max(-exponent, 0) <= places and len(figures) + exponent <= digits - places


def rows_losses(questionnaire: Questionnaire) -> list[Problem]:
    """What copying an imported definition into draft rows would lose; [] when nothing."""
    from surveys.models.questionnaire import code_validator, option_code_validator

    definition = questionnaire.source_definition or {}
    known_languages = {c for c, _name in settings.LANGUAGES}
    losses: list[Problem] = []

    def lose(link_id: str | None, message: str) -> None:
        losses.append(Problem(problem_where("", link_id), message))

    def valid(validator, value: str) -> bool:
        try:
            validator(value)
        except Exception:  # noqa: BLE001 - a ValidationError, whatever its message
            return False
        return True

    def extensions(node: dict, link_id: str | None, allowed: set[str]) -> None:
        for ext in node.get("extension", ()):
            url = ext.get("url")
            if url not in allowed:
                lose(link_id, _("extension %(url)s") % {"url": url})
            elif url == fhir.EXT_ITEM_CONTROL and fhir.item_control(node) not in _ROW_CONTROLS:
                lose(link_id, _("display control %(code)s") % {"code": fhir.item_control(node)})

    def languages(node: dict, link_id: str | None) -> None:
        for d in walk_dicts(node):
            if d.get("url") == fhir.EXT_TRANSLATION:
                for part in d.get("extension", ()):
                    if part.get("url") == "lang" and part.get("valueCode") not in known_languages:
                        lose(link_id, _("texts in %(lang)s") % {"lang": part.get("valueCode")})

    for key in sorted(set(definition) - _ROW_TOP_KEYS):
        lose(None, _("element %(key)s") % {"key": key})
    own_url = questionnaire_canonical(questionnaire.study.code, questionnaire.code)
    for source in source_canonicals(definition, own_url):
        lose(
            None,
            _("source questionnaire %(url)s (derivedFrom: legacy responses naming it could no longer be imported)")
            % {"url": source},
        )
    extensions(definition, None, {fhir.EXT_INTRO} | set(fhir.DRAFT_EXTENSIONS))
    languages({k: v for k, v in definition.items() if k != "item"}, None)

    def item(node: dict, section: bool) -> None:
        link_id = str(node.get("linkId", ""))
        if not valid(code_validator, link_id):
            lose(
                link_id,
                _("code %(code)s: a row code is a letter, then letters, digits or _ (40 at most)") % {"code": link_id},
            )
        for key in sorted(set(node) - _ROW_ITEM_KEYS):
            lose(link_id, _("element %(key)s") % {"key": key})
        languages({k: v for k, v in node.items() if k != "item"}, link_id)
        if node.get("type") == "group":
            if not section:
                lose(link_id, _("a group inside a group"))
            for key in ("enableWhen", "required", "repeats"):
                if node.get(key):
                    lose(link_id, _("%(key)s on a section") % {"key": key})
            extensions(node, link_id, {fhir.EXT_ITEM_CONTROL})
            for child in node.get("item", []):
                item(child, section=False)
            return
        extensions(node, link_id, _ROW_ITEM_EXTENSIONS)
        kind = fhir.item_type(node)
        if node.get("type") == "open-choice":
            lose(link_id, _("answers typed in (open-choice)"))
        if node.get("maxLength") is not None and kind not in (T.SHORT_TEXT, T.LONG_TEXT):
            lose(link_id, _("maxLength on a %(type)s item") % {"type": node.get("type")})
        for name, value in (
            ("minValue", fhir.ext_value(node, fhir.EXT_MIN)),
            ("maxValue", fhir.ext_value(node, fhir.EXT_MAX)),
        ):
            if value is not None and (not is_number(value) or not _fits(value, 12, 4)):
                lose(link_id, _("%(ext)s %(value)s") % {"ext": name, "value": value})
        for child in node.get("item", []):
            if fhir.item_control(child) != "help":
                lose(link_id, _("items nested under a question"))
            elif child.get("linkId") != f"{link_id}__help" or set(child) - {
                "linkId",
                "type",
                "text",
                "_text",
                "extension",
            }:
                lose(link_id, _("help text %(code)s as written") % {"code": child.get("linkId")})
        for index, option in enumerate(node.get("answerOption", [])):
            code = fhir.option_code(option)
            where = f"answerOption[{index}]"
            if set(option) - {"valueCoding", "extension"}:
                lose(
                    link_id,
                    _("%(where)s: %(keys)s")
                    % {"where": where, "keys": ", ".join(sorted(set(option) - {"valueCoding", "extension"}))},
                )
            coding = option.get("valueCoding", {})
            if set(coding) - {"code", "display", "_display"}:
                lose(
                    link_id,
                    _("%(where)s: %(keys)s")
                    % {"where": where, "keys": ", ".join(sorted(set(coding) - {"code", "display", "_display"}))},
                )
            if not valid(option_code_validator, code):
                lose(
                    link_id,
                    _("%(where)s: option code %(code)s (letters, digits or _, 40 at most)")
                    % {"where": where, "code": code},
                )
            if len(str(coding.get("display", ""))) > 300:
                lose(link_id, _("%(where)s: a label longer than 300 characters") % {"where": where})
            for ext in option.get("extension", ()):
                if ext.get("url") not in (fhir.EXT_ORDINAL, values.EXT_ITEM_WEIGHT):
                    lose(link_id, _("%(where)s: extension %(url)s") % {"where": where, "url": ext.get("url")})
            scores = {fhir.ext_value(option, fhir.EXT_ORDINAL), fhir.ext_value(option, values.EXT_ITEM_WEIGHT)} - {None}
            if len(scores) > 1:
                lose(link_id, _("%(where)s: two different scores (ordinalValue and itemWeight)") % {"where": where})
            elif scores and not _fits(next(iter(scores)), 8, 3):
                lose(link_id, _("%(where)s: score %(value)s") % {"where": where, "value": next(iter(scores))})
        for index, cond in enumerate(node.get("enableWhen", [])):
            where = f"enableWhen[{index}]"
            value = next((v for k, v in cond.items() if k.startswith("answer")), None)
            if isinstance(value, dict) and set(value) - {"code"}:
                lose(
                    link_id,
                    _("%(where)s: %(keys)s of the answer")
                    % {"where": where, "keys": ", ".join(sorted(set(value) - {"code"}))},
                )
            if len(str(value)) > 100 or len(str(cond.get("question", ""))) > 40:
                lose(link_id, _("%(where)s: too long for a condition row") % {"where": where})

    items = definition.get("item", [])
    seen_group = False
    for node in items:
        if node.get("type") == "group":
            seen_group = True
        elif seen_group:
            lose(str(node.get("linkId")), _("its place after a section (items outside sections come first)"))
        item(node, section=True)
    return losses


@transaction.atomic
def questionnaire_rows_from_source(*, questionnaire: Questionnaire, by: AbstractBaseUser | None) -> Questionnaire:
    """Turn an imported draft into editable rows; refuses (RowsRefused, nothing written) when anything would be lost."""
    from surveys.questionnaires.publish import questionnaire_draft_from_version

    questionnaire = Questionnaire.objects.select_for_update().select_related("study").get(pk=questionnaire.pk)
    if not questionnaire.source_definition:
        return questionnaire
    losses = rows_losses(questionnaire)
    if losses:
        raise RowsRefused(losses)
    # Rows keep one score per option, read wherever FHIR lets it sit (values.option_score).
    definition = copy.deepcopy(questionnaire.source_definition)
    questionnaire_draft_from_version(
        version=QuestionnaireVersion(questionnaire=questionnaire, definition=definition), by=by
    )
    questionnaire.refresh_from_db()
    for lang, _name in settings.LANGUAGES:
        setattr(questionnaire, f"intro_{lang}", fhir.extension_text(definition, fhir.EXT_INTRO, lang, exact=True))
    questionnaire.source_definition = None
    questionnaire._change_reason = "imported definition copied into editable rows"
    questionnaire.save()
    return questionnaire
