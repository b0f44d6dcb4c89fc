"""Publish validation: every problem of a definition, each tied to the item it concerns.

Works on the FHIR definition (not the draft rows) so that drafts and imported
files are checked by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from surveys.models import Item
from surveys.questionnaires import values
from surveys.questionnaires.fhir import (
    EXT_MAX,
    EXT_MIN,
    ext_value,
    item_control,
    item_type,
    iter_items,
    option_code,
    text_in,
)

T = Item.Type
SCALE_TYPES = {T.NRS, T.VAS}
LANGUAGE_NAMES = {"fr": gettext_lazy("French"), "en": gettext_lazy("English")}


@dataclass(frozen=True)
class Problem:
    """One reason a definition cannot be published: where (item code or field) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _lang_name(code: str) -> str:
    return str(LANGUAGE_NAMES.get(code, code))


def _missing_translations(node: dict, key: str, languages: list[str], base: str) -> list[str]:
    return [lang for lang in languages if not text_in(node, key, lang, base)]


def _condition_answer(cond: dict):
    for key, value in cond.items():
        if key.startswith("answer"):
            return key, value
    return None, None


def _has_text(node: dict, key: str) -> bool:
    """Whether node[key] is given in some language (the base text or a translation)."""
    return bool(node.get(key)) or bool((node.get(f"_{key}") or {}).get("extension"))


def definition_problems(definition: dict, *, languages: list[str], texts: bool = True) -> list[Problem]:
    """Every problem that stops `definition` from being published in `languages`.

    `texts=False` leaves out the texts missing in a language (the FHIR import warns about those
    instead: they can be written once the draft is copied into editable rows)."""
    problems: list[Problem] = []
    base = definition.get("language") or languages[0]

    def add(where: str, message: str) -> None:
        problems.append(Problem(where, message))

    def missing(node: dict, key: str) -> list[str]:
        return _missing_translations(node, key, languages, base) if texts else []

    for lang in missing(definition, "title"):
        add(_("questionnaire"), _("title is missing in %(lang)s") % {"lang": _lang_name(lang)})

    nodes = list(iter_items(definition.get("item", [])))
    questions = [n for n in nodes if n.get("type") not in ("group", "display")]
    if not questions:
        add(_("questionnaire"), _("has no questions: add at least one item that asks something"))

    position: dict[str, int] = {}
    by_link: dict[str, dict] = {}
    for index, node in enumerate(nodes):
        link_id = str(node.get("linkId", ""))
        is_group = node.get("type") == "group"
        where = (_("section %(code)s") if is_group else _("item %(code)s")) % {"code": link_id or "?"}
        if not link_id:
            add(where, _("has no code (linkId)"))
        elif link_id in position:
            add(where, _("code %(code)s is used more than once (codes must be unique)") % {"code": link_id})
        else:
            position[link_id] = index
            by_link[link_id] = node

        kind = item_type(node)
        # A group's title is optional (FHIR R4): an untitled group is a page without a heading. A group
        # titled in one language needs its title in every language, as any text does.
        if not (is_group and not _has_text(node, "text")):
            for lang in missing(node, "text"):
                what = _("title") if is_group else _("text")
                add(where, _("%(what)s is missing in %(lang)s") % {"what": what, "lang": _lang_name(lang)})
        if _has_text(node, "prefix"):
            for lang in missing(node, "prefix"):
                add(where, _("prefix is missing in %(lang)s") % {"lang": _lang_name(lang)})
        for child in node.get("item", []):
            if item_control(child) == "help" and child.get("text"):
                for lang in missing(child, "text"):
                    add(where, _("help text is missing in %(lang)s") % {"lang": _lang_name(lang)})

        if kind in values.CHOICE_TYPES and not is_group:
            options = node.get("answerOption", [])
            if not options:
                add(where, _("a choice item needs at least one answer option"))
            seen: set[str] = set()
            for option in options:
                code = option_code(option)
                if not code:
                    add(where, _("an answer option has no code"))
                elif code in seen:
                    add(where, _("option code %(code)s is used more than once") % {"code": code})
                seen.add(code)
                coding = option.get("valueCoding")
                # A coding with no display at all is shown by its code, in every language (values.option_label);
                # one labelled in a language needs its label in each.
                if coding is not None and _has_text(coding, "display"):
                    for lang in missing(coding, "display"):
                        add(
                            where,
                            _("label of option %(code)s is missing in %(lang)s")
                            % {"code": code, "lang": _lang_name(lang)},
                        )

        if not is_group and kind not in values.CHOICE_TYPES and node.get("answerOption"):
            # Options of a string, integer, date or time item: each one a value of the item's type, once.
            offered = values.offered_options(node)
            if len(offered) != len(node["answerOption"]):
                add(
                    where,
                    _("its answer options must each be a value of the item's type (%(type)s)")
                    % {"type": node.get("type")},
                )
            codes = [code for code, _stored, _option in offered]
            for code in sorted({c for c in codes if codes.count(c) > 1}):
                add(where, _("option %(code)s is used more than once") % {"code": code})
            for _code, _stored, option in offered:
                if "valueString" in option:
                    for lang in missing(option, "valueString"):
                        add(
                            where,
                            _("label of option %(code)s is missing in %(lang)s")
                            % {"code": _code, "lang": _lang_name(lang)},
                        )

        low, high = ext_value(node, EXT_MIN), ext_value(node, EXT_MAX)
        if kind in SCALE_TYPES and (low is None or high is None):
            add(where, _("a scale needs both a minimum and a maximum (e.g. 0 and 10)"))
        if low is not None and high is not None and low >= high:
            add(where, _("the minimum (%(low)s) must be below the maximum (%(high)s)") % {"low": low, "high": high})

    for index, node in enumerate(nodes):
        where = _("item %(code)s") % {"code": node.get("linkId", "?")}
        for cond in node.get("enableWhen", []):
            target_id = str(cond.get("question", ""))
            operator = cond.get("operator")
            target = by_link.get(target_id)
            if target is None:
                add(where, _("its display condition refers to %(code)s, which does not exist") % {"code": target_id})
                continue
            if position[target_id] >= index:
                add(
                    where,
                    _("its display condition refers to %(code)s, which does not come before it") % {"code": target_id},
                )
                continue
            target_kind = item_type(target)
            if target_kind in (T.DISPLAY,) or target.get("type") == "group":
                add(where, _("its display condition refers to %(code)s, which is not a question") % {"code": target_id})
                continue
            key, value = _condition_answer(cond)
            if operator == "exists":
                continue
            if operator in ("<", ">", "<=", ">=") and target_kind not in values.ORDERED_TYPES:
                add(
                    where,
                    _("operator %(op)s needs a number or date item, but %(code)s is not one")
                    % {"op": operator, "code": target_id},
                )
                continue
            if target_kind in values.CHOICE_TYPES:
                target_codes = {option_code(o) for o in target.get("answerOption", [])}
                answer_code = value.get("code") if isinstance(value, dict) else value
                if str(answer_code) not in target_codes:
                    add(
                        where,
                        _("its display condition expects option %(answer)s, which %(code)s does not offer")
                        % {"answer": answer_code, "code": target_id},
                    )
            elif target_kind in values.NUMBER_TYPES and key not in ("answerInteger", "answerDecimal"):
                add(
                    where,
                    _("its display condition compares %(code)s with %(answer)s, which is not a number")
                    % {"code": target_id, "answer": value},
                )
            elif target_kind == T.YES_NO and key != "answerBoolean":
                add(where, _("its display condition on %(code)s needs yes or no") % {"code": target_id})
            elif target_kind == T.DATE and values.to_date(value) is None:
                add(
                    where,
                    _(
                        "its display condition compares %(code)s with %(answer)s, which is not a date "
                        "(YYYY-MM-DD, YYYY-MM or YYYY)"
                    )
                    % {"code": target_id, "answer": value},
                )
            elif target_kind == T.DATETIME and values.to_datetime(value) is None:
                add(
                    where,
                    _(
                        "its display condition compares %(code)s with %(answer)s, which is not a date and time "
                        "(YYYY-MM-DDTHH:MM, or a date)"
                    )
                    % {"code": target_id, "answer": value},
                )
            elif target_kind == T.TIME and values.to_seconds(value) is None:
                add(
                    where,
                    _("its display condition compares %(code)s with %(answer)s, which is not a time (HH:MM)")
                    % {"code": target_id, "answer": value},
                )
    return problems
