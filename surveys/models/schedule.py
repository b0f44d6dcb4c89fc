from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from surveys.models.questionnaire import QuestionnaireVersion
from surveys.models.study import Study

CHANNELS = ("sms", "email")
MAX_REMINDERS = 5
MAX_REPEATS = 366  # a daily diary for a year
TRIGGER_SOURCES = ("answer", "score")


def validate_channels(value: list) -> None:
    if not isinstance(value, list) or not value or any(c not in CHANNELS for c in value):
        raise ValidationError(_("Channels must be a non-empty list drawn from %(known)s."), params={"known": CHANNELS})


def validate_reminders(value: list) -> None:
    if not isinstance(value, list) or len(value) > MAX_REMINDERS:
        raise ValidationError(_("Give at most %(n)s reminders, as a list of numbers."), params={"n": MAX_REMINDERS})
    if any(not isinstance(v, int) or isinstance(v, bool) or v <= 0 for v in value):
        raise ValidationError(_("Each reminder offset is a positive whole number, e.g. [2, 5]."))
    if value != sorted(set(value)):
        raise ValidationError(_("Reminder offsets must be increasing and distinct."))


def default_channels() -> list[str]:
    return ["sms", "email"]


def trigger_source(trigger_item: str) -> tuple[str, str]:
    """("answer", linkId) or ("score", name) from "answer:pain" / "score:phq9"; ("", "") if malformed."""
    source, _sep, name = (trigger_item or "").partition(":")
    if source not in TRIGGER_SOURCES or not name.strip():
        return "", ""
    return source, name.strip()


class Timepoint(models.Model):
    """When a questionnaire version is due, in the study design.

    Counted from enrolment (the default), from a date answered in an earlier questionnaire
    (`anchor` = answer: the local midnight of that date in the study's time zone), or from
    the submission whose answer or score meets `trigger_*` (planned then, once). It may
    repeat: occurrence k opens `offset + (k - 1) × repeat_every` units after its anchor.
    Planning: surveys/scheduling/planning.py (enrolment) and surveys/scheduling/triggers.py (answers, triggers).
    """

    class Unit(models.TextChoices):
        HOURS = "hours", _("hours")
        DAYS = "days", _("days")

    class Anchor(models.TextChoices):
        ENROLMENT = "enrolment", _("enrolment")
        ANSWER = "answer", _("a date answer")

    class Operator(models.TextChoices):
        EQ = "=", "="
        NE = "!=", "≠"
        LT = "<", "<"
        GT = ">", ">"
        LE = "<=", "≤"
        GE = ">=", "≥"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="timepoints", verbose_name=_("study"))
    code = models.SlugField(_("code"), max_length=40)
    label = models.CharField(_("label"), max_length=200)
    order = models.PositiveIntegerField(_("order"), default=0)
    version = models.ForeignKey(
        QuestionnaireVersion,
        on_delete=models.PROTECT,
        related_name="timepoints",
        verbose_name=_("questionnaire version"),
    )
    unit = models.CharField(_("unit"), max_length=5, choices=Unit.choices, default=Unit.DAYS)
    offset = models.PositiveIntegerField(_("offset from enrolment"), default=0)
    window = models.PositiveIntegerField(_("open for"), default=7)
    reminders = models.JSONField(
        _("reminders after opening"),
        default=list,
        blank=True,
        validators=[validate_reminders],
        help_text=_("Up to 5 offsets in the same unit, e.g. [2, 5]."),
    )
    send_time = models.TimeField(
        _("send at (patient's local time)"),
        null=True,
        blank=True,
        help_text=_("Leave empty to send as soon as the timepoint opens."),
    )
    channels = models.JSONField(_("channels"), default=default_channels, validators=[validate_channels])
    repeat_every = models.PositiveIntegerField(
        _("repeat every"),
        default=0,
        help_text=_("In the same unit; 0 = does not repeat (e.g. 7 days = weekly)."),
    )
    repeat_count = models.PositiveIntegerField(
        _("occurrences"),
        default=1,
        help_text=_("How many times in all, 1 to 366 (e.g. 12 for weekly for 12 weeks)."),
    )
    anchor = models.CharField(_("count from"), max_length=10, choices=Anchor.choices, default=Anchor.ENROLMENT)
    anchor_item = models.CharField(
        _("date question"),
        max_length=80,
        blank=True,
        help_text=_(
            "linkId of a date question of an earlier questionnaire (e.g. surgery_date); "
            "the offset counts from 00:00 of that date in the study's time zone."
        ),
    )
    trigger_item = models.CharField(
        _("planned only when"),
        max_length=90,
        blank=True,
        help_text=_(
            '"answer:<linkId>" or "score:<name>", e.g. answer:pain. The offset then counts from '
            "the submission that meets the condition; it is planned once."
        ),
    )
    trigger_operator = models.CharField(_("trigger condition"), max_length=2, choices=Operator.choices, blank=True)
    trigger_value = models.CharField(_("trigger value"), max_length=40, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("timepoint")
        verbose_name_plural = _("timepoints")
        ordering = ["study", "order", "offset"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="timepoint_code_unique_in_study"),
            models.CheckConstraint(condition=models.Q(window__gte=1), name="timepoint_window_positive"),
            models.CheckConstraint(
                condition=models.Q(repeat_count__gte=1, repeat_count__lte=MAX_REPEATS),
                name="timepoint_repeat_count_range",
            ),
            models.CheckConstraint(
                condition=models.Q(repeat_count=1) | models.Q(repeat_every__gte=1),
                name="timepoint_repeat_has_interval",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} (+{self.offset} {self.get_unit_display()})"

    @property
    def is_triggered(self) -> bool:
        return bool(self.trigger_item)

    @property
    def planned_at_enrolment(self) -> bool:
        """Counted from enrolment, not waiting for an answer or a trigger."""
        return self.anchor == self.Anchor.ENROLMENT and not self.is_triggered

    @property
    def study_id_for_rules(self) -> int:
        return self.study_id

    def clean(self) -> None:
        if self.version_id and self.study_id and self.version.questionnaire.study_id != self.study_id:
            raise ValidationError({"version": _("Choose a version of a questionnaire of this study.")})
        if isinstance(self.reminders, list) and self.reminders and max(self.reminders) >= self.window:
            raise ValidationError({"reminders": _("Every reminder must fall inside the open window.")})
        errors: dict[str, str] = {}
        self._clean_repeat(errors)
        items = self._study_items() if self.study_id else {}
        self._clean_anchor(errors, items)
        self._clean_trigger(errors, items)
        if errors:
            raise ValidationError(errors)

    def _study_items(self) -> dict[str, str]:
        """linkId → item type over the published versions of this study's questionnaires."""
        from surveys.models import QuestionnaireVersion
        from surveys.questionnaires import fhir

        items: dict[str, str] = {}
        for definition in QuestionnaireVersion.objects.filter(questionnaire__study_id=self.study_id).values_list(
            "definition", flat=True
        ):
            for node in fhir.iter_items(definition.get("item", [])):
                items.setdefault(node.get("linkId", ""), fhir.item_type(node))
        return items

    def _clean_repeat(self, errors: dict) -> None:
        every, count = self.repeat_every or 0, self.repeat_count or 0
        if not 1 <= count <= MAX_REPEATS:
            errors["repeat_count"] = _("Give between 1 and %(n)s occurrences.") % {"n": MAX_REPEATS}
        elif every == 0 and count > 1:
            errors["repeat_every"] = _("Say how often it repeats (e.g. 7 for weekly), or set occurrences to 1.")
        elif every > 0 and count == 1:
            errors["repeat_count"] = _(
                "A repeating timepoint needs 2 occurrences or more (or set 'repeat every' to 0)."
            )
        elif every > 0 and self.window and self.window > every:
            errors["window"] = _(
                "The open window (%(window)s) must not be longer than the repeat interval (%(every)s): "
                "two occurrences would be open at once."
            ) % {"window": self.window, "every": every}

    def _clean_anchor(self, errors: dict, items: dict[str, str]) -> None:
        from surveys.models import Item

        link_id = (self.anchor_item or "").strip()
        if self.anchor == self.Anchor.ANSWER:
            if not link_id:
                errors["anchor_item"] = _("Give the linkId of the date question to count from.")
            elif link_id not in items:
                errors["anchor_item"] = _("No published questionnaire of this study has a question %(id)s.") % {
                    "id": link_id
                }
            elif items[link_id] != Item.Type.DATE:
                errors["anchor_item"] = _("Question %(id)s is not a date question.") % {"id": link_id}
            if self.trigger_item:
                errors["trigger_item"] = _(
                    "Count either from a date answer or from a trigger, not both: clear one of them."
                )
        elif link_id:
            errors["anchor_item"] = _(
                "A date question is used only when counting from a date answer: choose 'a date answer' or clear it."
            )

    def _clean_trigger(self, errors: dict, items: dict[str, str]) -> None:
        from surveys.models import Item

        if not (self.trigger_item or self.trigger_operator or self.trigger_value):
            return
        source, name = trigger_source(self.trigger_item)
        if not source:
            errors["trigger_item"] = _('Write "answer:<linkId>" or "score:<name>", e.g. answer:pain.')
            return
        if source == "answer" and name not in items:
            errors["trigger_item"] = _("No published questionnaire of this study has a question %(id)s.") % {"id": name}
            return
        if not self.trigger_operator:
            errors["trigger_operator"] = _("Choose the condition (e.g. ≥).")
        if (self.trigger_value or "").strip() == "":
            errors["trigger_value"] = _("Give the value to compare with (e.g. 7).")
        elif self.trigger_operator in ("<", "<=", ">", ">="):
            kind = items.get(name) if source == "answer" else Item.Type.DECIMAL
            if kind == Item.Type.DATE:
                import datetime as dt

                try:
                    dt.date.fromisoformat(self.trigger_value.strip())
                except ValueError:
                    errors["trigger_value"] = _("Give a date as YYYY-MM-DD to compare a date with.")
            else:
                try:
                    float(self.trigger_value.strip().replace(",", "."))
                except ValueError:
                    errors["trigger_value"] = _("Give a number to compare with (e.g. 7).")
