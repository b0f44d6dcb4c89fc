"""Questionnaire imports: every format parses into FHIR definitions, then one service creates the drafts.

A parser never writes; `questionnaire_import` writes all of a file's
questionnaires or none. The admin (upload, preview, confirm) and the
`import_questionnaire` command both go through `import_parse` then
`questionnaire_import`, so the rules live here once.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from surveys.interop import uploads
from surveys.interop.fhir.questionnaire_export import questionnaire_canonical, with_own_canonical
from surveys.models import Questionnaire, Study
from surveys.questionnaires import fhir
from surveys.questionnaires.validation import Problem


@dataclass
class ImportedQuestionnaire:
    """One questionnaire found in a file: its code in the study and its FHIR definition.

    Rules (scores, alerts), safety message and instrument ride in the
    definition's extensions (fhir.EXT_RULES, ...), as in a published version.
    """

    code: str
    definition: dict
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class ImportResult:
    questionnaires: list[ImportedQuestionnaire] = field(default_factory=list)
    # Any problem means nothing is imported.
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.questionnaires)


# format -> (label, "module.function" taking (content: bytes, *, study: Study) -> ImportResult)
FORMATS: dict[str, tuple[str, str]] = {
    "fhir": (
        gettext_lazy("FHIR R4 Questionnaire (JSON)"),
        "surveys.interop.fhir.questionnaire_import.questionnaire_parse",
    ),
    "redcap": (
        gettext_lazy("REDCap data dictionary (CSV)"),
        "surveys.interop.redcap.dictionary_import.dictionary_parse",
    ),
}

# Exports of a published version: format -> (label, "module.function" taking (version) -> str, media type, extension)
EXPORTS: dict[str, tuple[str, str, str, str]] = {
    "fhir": (
        gettext_lazy("FHIR R4 Questionnaire (JSON)"),
        "surveys.interop.fhir.questionnaire_export.questionnaire_export_text",
        "application/fhir+json",
        "json",
    ),
    "redcap": (
        gettext_lazy("REDCap data dictionary (CSV)"),
        "surveys.interop.redcap.dictionary_export.dictionary_export",
        "text/csv",
        "csv",
    ),
}


def _parser(format_: str) -> Callable[..., ImportResult]:
    module, name = FORMATS[format_][1].rsplit(".", 1)
    return getattr(import_module(module), name)


def exporter(format_: str) -> Callable[..., str]:
    module, name = EXPORTS[format_][1].rsplit(".", 1)
    return getattr(import_module(module), name)


_CODE = re.compile(r"[-a-zA-Z0-9_]{1,40}")


def import_parse(
    *,
    format_: str,
    content: bytes,
    study: Study,
    code: str = "",
    prefix: str = "",
    language: str = "",
    language_override: str = "",
) -> ImportResult:
    """Parse a file; adds a problem naming the questionnaire codes the study already uses.

    `code` replaces the code of a file's only questionnaire; `prefix` goes in front of every code of the
    file (a second REDCap project whose instrument names are those of a first); `language` (the language
    of the file's texts when it does not say) goes to parsers that take it.
    """
    if format_ not in FORMATS:
        return ImportResult(problems=[Problem(_("file"), _("unknown format %(format)s") % {"format": format_})])
    parser = _parser(format_)
    # `language` says what the texts are in when a file does not; `language_override` relabels a file that
    # says otherwise. Each goes to the parsers that take it.
    accepted = inspect.signature(parser).parameters
    given = {"language": language, "language_override": language_override}
    options = {key: value for key, value in given.items() if value and key in accepted}
    result = parser(content, study=study, **options)
    if code and prefix:
        result.problems.append(Problem(_("code"), _("give a code or a prefix, not both")))
    elif code and result.questionnaires:
        if len(result.questionnaires) != 1:
            result.problems.append(
                Problem(
                    _("code"),
                    _(
                        "a code can be given only for a file with one questionnaire; this one has %(count)s: "
                        "give a prefix for their codes instead"
                    )
                    % {"count": len(result.questionnaires)},
                )
            )
        elif not _CODE.fullmatch(code):
            result.problems.append(
                Problem(_("code"), _("%(code)s: use letters, digits, - or _ (40 at most)") % {"code": code})
            )
        else:
            result.questionnaires[0].code = code
    elif prefix:
        too_long = [
            f"{prefix}{found.code}" for found in result.questionnaires if not _CODE.fullmatch(prefix + found.code)
        ]
        if not _CODE.fullmatch(prefix) or too_long:
            result.problems.append(
                Problem(
                    _("prefix"),
                    _("%(prefix)s: a code is letters, digits, - or _ (40 at most, prefix included): %(codes)s")
                    % {"prefix": prefix, "codes": ", ".join(too_long) or prefix},
                )
            )
        else:
            for found in result.questionnaires:
                found.code = prefix + found.code
    taken = set(study.questionnaires.values_list("code", flat=True))
    clashes = [found.code for found in result.questionnaires if found.code in taken]
    if clashes:
        if prefix:
            advice = _("choose another prefix")
        elif len(result.questionnaires) == 1:
            advice = _("give the questionnaire another code, or a prefix for its code")
        else:
            advice = _("give a prefix for the codes of this file's questionnaires")
        result.problems.append(
            Problem(
                ", ".join(_("questionnaire %(code)s") % {"code": c} for c in clashes),
                ngettext(
                    "the study already has a questionnaire with the code %(codes)s: %(advice)s",
                    "the study already has questionnaires with the codes %(codes)s: %(advice)s",
                    len(clashes),
                )
                % {"codes": ", ".join(clashes), "advice": advice},
            )
        )
    if not result.questionnaires and not result.problems:
        result.problems.append(Problem(_("file"), _("no questionnaire found")))
    return result


class ImportRefused(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


def _draft_fields(definition: dict, study: Study) -> dict:
    """Draft fields read back from a definition's own extensions and texts."""
    base = definition.get("language") or study.fallback_language
    fields: dict = {}
    for lang in ("fr", "en"):
        fields[f"title_{lang}"] = fhir.text_in(definition, "title", lang, base)[:200]
        fields[f"safety_message_{lang}"] = fhir.extension_text(definition, fhir.EXT_SAFETY, lang, exact=True)
    fields["kind"] = fhir.ext_value(definition, fhir.EXT_KIND, Questionnaire.Kind.PROM)
    fields["one_item_per_page"] = bool(fhir.ext_value(definition, fhir.EXT_ONE_PER_PAGE, False))
    fields["rules"] = fhir.rules_of(definition)
    fields["instrument"] = fhir.ext_value(definition, fhir.EXT_INSTRUMENT, "") or ""
    return fields


@transaction.atomic
def questionnaire_import(
    *, study: Study, result: ImportResult, format_: str, by: AbstractBaseUser | None
) -> list[Questionnaire]:
    """Create one draft per questionnaire of a parsed file, all or none.

    Raises ImportRefused (nothing written) when the result has problems.
    """
    if not result.ok:
        raise ImportRefused(result.problems or [Problem(_("file"), _("no questionnaire found"))])
    created = []
    for found in result.questionnaires:
        # Our canonical URL for every questionnaire whatever its code; the file's own url|version goes to
        # derivedFrom, so two questionnaires imported from one file never answer to the same URL.
        definition = with_own_canonical(found.definition, questionnaire_canonical(study.code, found.code))
        fields = _draft_fields(definition, study)
        # The draft's fields become the single place for these; the kept definition holds the rest.
        definition["extension"] = [
            e for e in definition.get("extension", []) if e.get("url") not in fhir.DRAFT_EXTENSIONS
        ]
        if not definition["extension"]:
            del definition["extension"]
        questionnaire = Questionnaire(
            study=study, code=found.code, source_definition=definition, source_format=format_, **fields
        )
        questionnaire._change_reason = f"imported ({format_})"
        questionnaire.save()
        created.append(questionnaire)
    return created


def definition_json(content: bytes) -> tuple[dict | None, list[Problem]]:
    """Decode a JSON file through the upload limits (size, depth, UTF-8), or say where it is broken."""
    try:
        data = uploads.json_file(content)
    except uploads.UploadRefused as refused:
        return None, [Problem(refused.where, refused.message)]
    if not isinstance(data, dict):
        return None, [Problem(_("file"), _("a JSON object is expected"))]
    return data, []
