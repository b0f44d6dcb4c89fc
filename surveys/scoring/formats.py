"""The format of a questionnaire's scoring and alert rules, declared once (docs/scoring.md).

`Rules` is what the designer types in *Scores and alerts* and what a definition freezes. The
models say which keys exist, their types, their allowed values and ranges; `refusals` turns
pydantic's errors into our own translated messages, each with the key it concerns, because
pydantic's English text is neither translated nor worded for a questionnaire designer.

What a schema cannot say (an item named by a rule exists and is scorable, a name or band code is
unique, a score uses only earlier scores, a label exists in every study language, a value suits
the item it is compared with) is checked against the definition in compute.py and alerts.py.
The computation and evaluation read the raw rules, never these models: a version frozen before
a rule was tightened is still scored as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from surveys.questionnaires.values import OPERATORS

MAX_ROUND = 6
# Exports name the column score_<name>: with the prefix it stays within the 40 characters of a linkId.
SCORE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,33}$"
BAND_CODE_PATTERN = r"^[A-Za-z0-9_]{1,40}$"
# Alert.rule is 40 characters; codes are also shown in e-mail subjects.
ALERT_CODE_PATTERN = r"^[A-Za-z0-9_]{1,40}$"


@dataclass(frozen=True)
class Says:
    """Field metadata: the message shown when the field's value is refused (any error under it),
    or a more precise one for some pydantic error types (`by_type`). None: say nothing here,
    because a check against the definition reports it better (a label's missing languages)."""

    message: Promise | None
    by_type: tuple[tuple[str, Promise], ...] = ()

    def for_type(self, kind: str) -> Promise | None:
        return dict(self.by_type).get(kind, self.message)


# A JSON number: not a boolean, not infinite (an integer stays valid where a decimal is asked).
Number = Annotated[float, Strict(), AllowInfNan(False)]
# Texts by language code. Which languages are needed depends on the study: checked in code.
LanguageTexts = dict[StrictStr, StrictStr]

SILENT = Says(None)
UNKNOWN_KEY = "extra_forbidden"


class Rule(BaseModel):
    """Common configuration: unknown keys are refused, so a misspelt key is never silently ignored."""

    model_config = ConfigDict(extra="forbid", regex_engine="python-re")
    # Shown when the value is not an object at all.
    not_an_object: ClassVar[Promise | None] = None
    # Messages for errors of the object itself, by pydantic error type (an unknown key, a custom
    # error of one of its validators); empty: the message of the field holding it.
    says_for: ClassVar[Mapping[str, Promise]] = {}


class Band(Rule):
    not_an_object = _('band no. %(number)s must be a {"code", "min", "max", "label"} object')

    code: Annotated[
        StrictStr,
        Field(pattern=BAND_CODE_PATTERN, description="letters, digits and _"),
        Says(_('needs a "code" of letters, digits or _')),
    ]
    min: Annotated[
        Number,
        Field(description="inclusive lower bound of the final value"),
        Says(_('"min" and "max" must be numbers')),
    ]
    max: Annotated[
        Number,
        Field(description="inclusive upper bound of the final value"),
        Says(_('"min" and "max" must be numbers')),
    ]
    label: Annotated[LanguageTexts | None, Field(description="severity label, one text per study language"), SILENT] = (
        None
    )


class Transform(Rule):
    multiply: Number = 1
    add: Number = 0

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if value == {}:
            raise PydanticCustomError("transform_empty", "an empty transform transforms nothing")
        return value


TRANSFORM = Says(_('"transform" must be an object with numbers "multiply" and/or "add"'))


class ScoreRule(Rule):
    """One score. Field order is the order in which its problems are listed."""

    not_an_object = _("each score rule must be a JSON object")

    name: Annotated[
        StrictStr,
        Field(
            min_length=1,
            pattern=SCORE_NAME_PATTERN,
            description="a letter, then letters, digits and _, 34 characters at most",
        ),
        Says(
            _('has no "name"'),
            by_type=(
                (
                    "string_pattern_mismatch",
                    _('name "%(name)s" is not valid: use a letter, then letters, digits or _ (34 characters at most)'),
                ),
            ),
        ),
    ]
    label: Annotated[LanguageTexts | None, SILENT] = None
    items: Annotated[
        list[StrictStr] | None,
        Field(description="linkIds of the scored items"),
        Says(_('"items" must be a list of item codes')),
    ] = None
    scores: Annotated[
        list[StrictStr] | None,
        Field(description="names of earlier scores"),
        Says(_('"scores" must be a list of names of earlier scores')),
    ] = None
    method: Annotated[Literal["sum", "mean"], Says(_('"method" must be "sum" or "mean"'))]
    reverse: Annotated[
        list[StrictStr] | None,
        Field(description="linkIds among items scored in reverse"),
        Says(_('"reverse" must be a list of item codes')),
    ] = None
    missing: Annotated[Literal["prorate", "none"], Says(_('"missing" must be "prorate" or "none"'))] = "none"
    # At most the number of inputs: checked in code, which counts them.
    min_answered: Annotated[
        StrictInt,
        Field(ge=1),
        Says(_('"min_answered" must be a whole number from 1 to %(of)s (the number of its inputs)')),
    ] = None
    lookup: Annotated[
        list[Annotated[list[Number], Field(min_length=2, max_length=2)]],
        Field(min_length=1, description="[raw score, value] pairs"),
        Says(_('"lookup" must be a non-empty list of [raw score, value] pairs of numbers')),
    ] = None
    transform: Annotated[Transform, TRANSFORM] = None
    round: Annotated[
        StrictInt,
        Field(ge=0, le=MAX_ROUND, description="decimal places"),
        Says(_('"round" must be a whole number of decimal places from 0 to %(max)s')),
    ] = None
    bands: Annotated[
        list[Band] | None, Says(_('"bands" must be a list of {"code", "min", "max", "label"} objects'))
    ] = None


def _target(value: Any) -> Any:
    # Evaluation reads the target as text (str(...)): so does the check, which then says it is unknown.
    return value if value is None else str(value)


def value_refusal(operator: str, value: Any, *, given: bool) -> str | None:
    """The error type (a key of `Comparison.says_for`) of a test's value for its operator, or None:
    "exists" takes true or false (or nothing), any other operator needs a value. Whether the value
    suits the tested item or score is a check against the definition (alerts.py)."""
    if operator == "exists":
        return "exists_value" if given and not isinstance(value, bool) else None
    return "needs_value" if value is None else None


class Comparison(Rule):
    """One test: an answer or a score, an operator, a value. Whether the value suits the item or
    score it is compared with depends on the definition: checked in alerts.py."""

    not_an_object = _('"when" must be a test or {"any": [...]} / {"all": [...]}')
    says_for = {
        "one_target": _('a test names either an "answer" (item code) or a "score" (score name), not both or neither'),
        UNKNOWN_KEY: _("a test has unknown keys: %(keys)s"),
        "exists_value": _('"exists" takes true or false, not %(value)s'),
        "needs_value": _("operator %(op)s needs a value"),
    }

    answer: Annotated[str | None, BeforeValidator(_target), Field(description="linkId of the tested item")] = None
    score: Annotated[str | None, BeforeValidator(_target), Field(description="name of the tested score")] = None
    operator: Annotated[Literal[OPERATORS], Says(_("operator %(op)s is unknown (use one of %(ops)s)"))]
    value: Annotated[Any, Field(description="number, text, true or false: what suits the tested item or score")] = None

    @model_validator(mode="before")
    @classmethod
    def _one_target(cls, value: Any) -> Any:
        if isinstance(value, dict) and ("answer" in value) == ("score" in value):
            raise PydanticCustomError("one_target", "an answer or a score, not both or neither")
        return value

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Comparison:
        # Pydantic skips this when a key is unknown or refused: alerts.py then calls value_refusal itself.
        kind = value_refusal(self.operator, self.value, given="value" in self.model_fields_set)
        if kind is not None:
            raise PydanticCustomError(kind, "the value does not suit the operator")
        return self


ALONE = {UNKNOWN_KEY: _('"%(key)s" must be alone in its object')}


class AnyOf(Rule):
    not_an_object = Comparison.not_an_object
    says_for = ALONE
    any: Annotated[list[When], Field(min_length=1), Says(_('"%(key)s" needs a non-empty list of tests'))]


class AllOf(Rule):
    not_an_object = Comparison.not_an_object
    says_for = ALONE
    all: Annotated[list[When], Field(min_length=1), Says(_('"%(key)s" needs a non-empty list of tests'))]


def when_kind(value: Any) -> str:
    """Which kind of test `value` is: a group when it has "any" (first) or "all", else a comparison."""
    if isinstance(value, dict):
        for key in ("any", "all"):
            if key in value:
                return key
    return "test"


When = Annotated[
    Annotated[AnyOf, Tag("any")] | Annotated[AllOf, Tag("all")] | Annotated[Comparison, Tag("test")],
    Discriminator(when_kind),
]


class AlertRule(Rule):
    not_an_object = _("a rule must be an object with code, label and when")
    says_for = {UNKNOWN_KEY: _("unknown keys: %(keys)s")}

    code: Annotated[
        StrictStr,
        Field(pattern=ALERT_CODE_PATTERN, description="1 to 40 letters, digits and _"),
        Says(_("needs a code of 1 to 40 letters, digits or _")),
    ]
    # Any truthy text per language counts: which languages are needed is checked in code.
    label: Annotated[
        dict[StrictStr, Any],
        Field(description="one text per study language"),
        Says(_('needs a label per language, e.g. {"fr": "...", "en": "..."}')),
    ]
    when: Annotated[When, Says(_('needs "when": the test that fires it'))]
    safety_message: Annotated[StrictBool, Says(_('"safety_message" must be true or false'))] = False


class Rules(Rule):
    """The rules of a questionnaire: {"scores": [...], "alerts": [...]}."""

    scores: Annotated[list[ScoreRule], Says(_('"scores" must be a list of score rules'))] = []
    alerts: Annotated[list[AlertRule], Says(_('"alerts" must be a list of rules'))] = []


AnyOf.model_rebuild()
AllOf.model_rebuild()
AlertRule.model_rebuild()
Rules.model_rebuild()


# --- refusals ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """One refused value: where (pydantic's loc), the pydantic error type, and our message for it
    (None when a check against the definition reports it instead)."""

    loc: tuple[str | int, ...]
    kind: str
    message: Promise | None


TAGS = {"any": "AnyOf", "all": "AllOf", "test": "Comparison"}
NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type"})


def _message(model: type[Rule], loc: tuple[str | int, ...], kind: str) -> Promise | None:
    """Our message for an error at `loc` inside `model`: that of the deepest declared field it is
    under, or the model's own when the value there is not an object."""
    found: Promise | None = None
    current: type[Rule] | str | None = model
    for step in loc:
        if current == "tag" and isinstance(step, str):
            # A test inside "when": pydantic names the kind chosen by when_kind, then its fields.
            current = globals()[TAGS[step]]
        elif isinstance(current, type) and isinstance(step, str):
            field = current.model_fields.get(step)
            if field is None:
                break
            says = next((m for m in field.metadata if isinstance(m, Says)), None)
            if says is not None:
                found = says.for_type(kind)
            current = _inner_model(field.annotation)
    if isinstance(current, type) and kind in current.says_for:
        return current.says_for[kind]
    if kind in NOT_AN_OBJECT and isinstance(current, type):
        return current.not_an_object or found
    return found


def _inner_model(annotation: Any) -> type[Rule] | str | None:
    """The model a field holds (itself, in a list, or optional) to follow a loc into it;
    "tag" for a test, whose kind pydantic names first."""
    models, stack = set(), [annotation]
    while stack:
        kind = stack.pop()
        if isinstance(kind, type) and issubclass(kind, Rule):
            models.add(kind)
        else:
            stack.extend(getattr(kind, "__args__", ()))
    if len(models) > 1:
        return "tag"
    return models.pop() if models else None


def refusals(model: type[Rule], data: Any) -> list[Refusal]:
    """Every error of `data` against `model`, in pydantic's order, each with its message."""
    try:
        model.model_validate(data)
    except ValidationError as error:
        return [
            Refusal(tuple(e["loc"]), e["type"], _message(model, tuple(e["loc"]), e["type"]))
            for e in error.errors(include_url=False)
        ]
    return []


def rules_schema() -> dict:
    """The JSON schema of the rules (what docs/scoring.md describes)."""
    return Rules.model_json_schema()
