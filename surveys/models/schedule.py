from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .questionnaire import QuestionnaireVersion
from .study import Study

CHANNELS = ("sms", "email")
MAX_REMINDERS = 5


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


class Timepoint(models.Model):
    """When a questionnaire version is due, counted from enrolment, in the study design."""

    class Unit(models.TextChoices):
        HOURS = "hours", _("hours")
        DAYS = "days", _("days")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="timepoints")
    code = models.SlugField(_("code"), max_length=40)
    label = models.CharField(_("label"), max_length=200)
    order = models.PositiveIntegerField(_("order"), default=0)
    version = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.PROTECT, related_name="timepoints", verbose_name=_("questionnaire version")
    )
    unit = models.CharField(_("unit"), max_length=5, choices=Unit.choices, default=Unit.DAYS)
    offset = models.PositiveIntegerField(_("offset from enrolment"), default=0)
    window = models.PositiveIntegerField(_("open for"), default=7)
    reminders = models.JSONField(
        _("reminders after opening"), default=list, blank=True, validators=[validate_reminders],
        help_text=_("Up to 5 offsets in the same unit, e.g. [2, 5]."),
    )
    send_time = models.TimeField(
        _("send at (patient's local time)"), null=True, blank=True,
        help_text=_("Leave empty to send as soon as the timepoint opens."),
    )
    channels = models.JSONField(_("channels"), default=default_channels, validators=[validate_channels])
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("timepoint")
        verbose_name_plural = _("timepoints")
        ordering = ["study", "order", "offset"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="timepoint_code_unique_in_study"),
            models.CheckConstraint(condition=models.Q(window__gte=1), name="timepoint_window_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.code} (+{self.offset} {self.unit})"

    @property
    def study_id_for_rules(self) -> int:
        return self.study_id

    def clean(self) -> None:
        if self.version_id and self.study_id and self.version.questionnaire.study_id != self.study_id:
            raise ValidationError({"version": _("Choose a version of a questionnaire of this study.")})
        if isinstance(self.reminders, list) and self.reminders and max(self.reminders) >= self.window:
            raise ValidationError({"reminders": _("Every reminder must fall inside the open window.")})
