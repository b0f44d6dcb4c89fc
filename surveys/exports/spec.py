"""What an export is: the choices a data manager makes, as one frozen value.

`ExportSpec` is built by the export page, the API or a job row (`to_dict` / `from_dict`) and handed
to `surveys.exports.writers.export_write`. It holds ids and codes only, never a user object, so it
can be stored and passed to a Celery task as it is. `ExportStats` is what a write reports back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

# One row per answer (long), one row per participant × timepoint × occurrence (wide), statistics
# packages' own files (always wide), the codebook, FHIR QuestionnaireResponse lines.
FORMATS: dict[str, Any] = {
    "long_csv": _("Long, CSV (one row per answer)"),
    "wide_csv": _("Wide, CSV (one row per participant and timepoint; several questionnaires: a zip of one file each)"),
    "long_xlsx": _("Long, Excel (one row per answer)"),
    "wide_xlsx": _("Wide, Excel (one row per participant and timepoint)"),
    "sav": _("SPSS .sav (wide, with variable and value labels; several questionnaires: a zip of one file each)"),
    "dta": _("Stata .dta (wide, with variable and value labels; several questionnaires: a zip of one file each)"),
    "codebook_csv": _("Codebook, CSV"),
    "codebook_html": _("Codebook, HTML"),
    "fhir_ndjson": _("FHIR QuestionnaireResponse, NDJSON (one response per line)"),
}
WIDE_FORMATS = frozenset({"wide_csv", "wide_xlsx", "sav", "dta"})
LONG_FORMATS = frozenset({"long_csv", "long_xlsx"})
CODEBOOK_FORMATS = frozenset({"codebook_csv", "codebook_html"})

DATES: dict[str, Any] = {
    "exact": _("Exact dates and times"),
    "shifted": _("Shifted by a secret offset per participant (intervals kept)"),
    "days_since_enrolment": _("Days since enrolment"),
}


class ExportSpecError(ValueError):
    """A spec that cannot be exported; `problems` name each field and what is wrong with it."""

    def __init__(self, problems: Mapping[str, str]):
        self.problems = dict(problems)
        super().__init__("; ".join(f"{key}: {text}" for key, text in self.problems.items()))


@dataclass(frozen=True)
class ExportSpec:
    """One export of one study.

    questionnaires: questionnaire codes; empty = every questionnaire of the study that has a version.
    labels: option labels instead of option codes (CSV, Excel; in .sav/.dta the value labels show
        labels or codes and the values stay numbers).
    language: language of labels; None = the study's fallback language.
    dates: "exact", "shifted" (secret per-participant offset, whole days) or "days_since_enrolment".
    exclude_free_text: leave out short and long text answers and "other, please specify" texts.
    sites: ids of the sites whose participants are exported; None = every site (and participants
        without a site). Set from the requesting user's memberships (surveys.exports.access).
    completed_only: only submitted responses; otherwise responses in progress too (status column).
    """

    study_id: int
    format: str = "long_csv"
    questionnaires: tuple[str, ...] = ()
    labels: bool = False
    language: str | None = None
    dates: str = "exact"
    exclude_free_text: bool = False
    sites: tuple[int, ...] | None = None
    completed_only: bool = False
    # Not a choice: keeps to_dict/from_dict forward compatible when fields are added.
    schema: int = field(default=1, compare=False)

    def __post_init__(self) -> None:
        # Lists from JSON or a form become tuples, so the spec stays hashable and comparable.
        object.__setattr__(self, "questionnaires", tuple(sorted(set(self.questionnaires or ()))))
        if self.sites is not None:
            object.__setattr__(self, "sites", tuple(sorted({int(s) for s in self.sites})))

    # --- checking -------------------------------------------------------------------

    def problems(self) -> dict[str, str]:
        """What is wrong with this spec, by field ({} when it can be exported). No database access."""
        found: dict[str, str] = {}
        if self.format not in FORMATS:
            found["format"] = str(
                _("Unknown format %(value)s; choose one of %(known)s.")
                % {"value": self.format, "known": ", ".join(FORMATS)}
            )
        if self.dates not in DATES:
            found["dates"] = str(
                _("Unknown date mode %(value)s; choose one of %(known)s.")
                % {"value": self.dates, "known": ", ".join(DATES)}
            )
        elif self.format == "fhir_ndjson" and self.dates == "days_since_enrolment":
            found["dates"] = str(_("FHIR responses carry dates: choose exact or shifted dates for this format."))
        languages = [code for code, _name in settings.LANGUAGES]
        if self.language is not None and self.language not in languages:
            found["language"] = str(
                _("Unknown language %(value)s; choose one of %(known)s.")
                % {"value": self.language, "known": ", ".join(languages)}
            )
        return found

    def check(self) -> ExportSpec:
        problems = self.problems()
        if problems:
            raise ExportSpecError(problems)
        return self

    # --- storing ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists, not tuples."""
        data = asdict(self)
        data["questionnaires"] = list(self.questionnaires)
        data["sites"] = None if self.sites is None else list(self.sites)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExportSpec:
        """From `to_dict` output (a job row, an API body). Unknown keys are refused by name."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ExportSpecError({key: str(_("Unknown field.")) for key in unknown})
        if "study_id" not in data:
            raise ExportSpecError({"study_id": str(_("This field is required."))})
        values = dict(data)
        questionnaires: Iterable[str] = values.get("questionnaires") or ()
        values["questionnaires"] = tuple(str(code) for code in questionnaires)
        return cls(**values)

    @property
    def is_wide(self) -> bool:
        return self.format in WIDE_FORMATS

    @property
    def is_long(self) -> bool:
        return self.format in LONG_FORMATS

    @property
    def is_codebook(self) -> bool:
        return self.format in CODEBOOK_FORMATS


@dataclass
class ExportStats:
    """What one write produced. `rows` counts data rows (long: answers and score rows; wide: one per
    response; FHIR: lines; codebook: variables); `files` the files in the output (1 unless zipped)."""

    rows: int = 0
    responses: int = 0
    participants: int = 0
    questionnaires: int = 0
    files: int = 1
    bytes: int = 0
    file_names: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
