"""Questionnaire drafts (editable rows) and published versions (frozen JSON).

A draft is the set of Section / Item / AnswerOption / EnableCondition rows of a
Questionnaire. Publishing (surveys.questionnaires.publish.questionnaire_publish) turns them
into one immutable FHIR-shaped JSON definition; responses pin that version.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from surveys.models.study import Study

# linkId and option codes become export column names and values: keep them to
# characters every statistics package accepts.
code_validator = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_]{0,39}$",
    _("Use a letter, then letters, digits or _ (40 characters at most)."),
)
# Option codes are values, not column names: REDCap's numeric codes (0, 1, -99) are kept as they are.
option_code_validator = RegexValidator(
    r"^-?[A-Za-z0-9_]{1,39}$",
    _("Use letters, digits or _, optionally after a minus sign (40 characters at most)."),
)


class FrozenCodeMixin:
    """Codes (linkId, option code) never change once created: exports key on them."""

    frozen_code_field = "code"

    def _check_code_frozen(self) -> None:
        if self.pk is None:
            return
        current = type(self).objects.filter(pk=self.pk).values_list(self.frozen_code_field, flat=True).first()
        if current is not None and current != getattr(self, self.frozen_code_field):
            raise ValidationError(
                {self.frozen_code_field: _("Code %(code)s is frozen once created; add a new item instead.")},
                params={"code": current},
            )

    def save(self, *args, **kwargs):
        self._check_code_frozen()
        return super().save(*args, **kwargs)


class Questionnaire(models.Model):
    class Kind(models.TextChoices):
        PROM = "PROM", _("PROM (outcome)")
        PREM = "PREM", _("PREM (experience)")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="questionnaires", verbose_name=_("study"))
    code = models.SlugField(_("code"), max_length=40)
    kind = models.CharField(_("kind"), max_length=4, choices=Kind.choices, default=Kind.PROM)
    title_fr = models.CharField(_("title (French)"), max_length=200, blank=True)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    intro_fr = models.TextField(_("introduction (French)"), blank=True)
    intro_en = models.TextField(_("introduction (English)"), blank=True)
    one_item_per_page = models.BooleanField(
        _("one item per screen"), default=False, help_text=_("ePRO good practice for symptom diaries.")
    )
    # Scoring and alert rules (surveys.scoring.compute, surveys.scoring.alerts): declarative JSON,
    # frozen into the definition at publish so each version keeps its own rules.
    rules = models.JSONField(
        _("scores and alerts"),
        default=dict,
        blank=True,
        help_text=_("Scoring and alert rules (JSON). See docs/scoring.md for the format."),
    )
    safety_message_fr = models.TextField(
        _("safety message (French)"),
        blank=True,
        help_text=_("Shown at the end of the questionnaire when an alert asks for it, e.g. helpline numbers."),
    )
    safety_message_en = models.TextField(_("safety message (English)"), blank=True)
    # Library instrument this questionnaire is (surveys.interop.library); licensed ones need a licence reference to publish.
    instrument = models.CharField(_("library instrument"), max_length=40, blank=True)
    licence_reference = models.CharField(
        _("licence reference"),
        max_length=200,
        blank=True,
        help_text=_("Licence agreement number or reference, required to publish a licensed instrument."),
    )
    # An imported FHIR definition is kept whole (nested groups, unknown extensions):
    # when set, it is the draft's content instead of the item rows.
    source_definition = models.JSONField(_("imported definition"), null=True, blank=True, editable=False)
    source_format = models.CharField(_("imported from"), max_length=16, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("questionnaire")
        verbose_name_plural = _("questionnaires")
        constraints = [models.UniqueConstraint(fields=["study", "code"], name="questionnaire_code_unique_in_study")]
        ordering = ["study", "code"]

    def __str__(self) -> str:
        return f"{self.study.code}/{self.code}"

    @property
    def study_id_for_rules(self) -> int:
        return self.study_id


class Section(FrozenCodeMixin, models.Model):
    """A page (or group) of items."""

    frozen_code_field = "link_id"

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="sections", verbose_name=_("questionnaire")
    )
    order = models.PositiveIntegerField(_("order"), default=0)
    link_id = models.CharField(_("code"), max_length=40, validators=[code_validator])
    title_fr = models.CharField(_("title (French)"), max_length=200, blank=True)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("section / page")
        verbose_name_plural = _("sections / pages")
        ordering = ["questionnaire", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["questionnaire", "link_id"], name="section_code_unique_in_questionnaire")
        ]

    def __str__(self) -> str:
        return self.title_fr or self.title_en or self.link_id

    @property
    def study_id_for_rules(self) -> int:
        return self.questionnaire.study_id


class Item(FrozenCodeMixin, models.Model):
    class Type(models.TextChoices):
        DISPLAY = "display", _("Display text")
        SINGLE = "single", _("Single choice")
        MULTIPLE = "multiple", _("Multiple choice")
        YES_NO = "yes_no", _("Yes / no")
        INTEGER = "integer", _("Integer")
        DECIMAL = "decimal", _("Decimal")
        NRS = "nrs", _("Numeric rating scale 0–10")
        VAS = "vas", _("Visual analogue scale 0–100")
        DATE = "date", _("Date")
        TIME = "time", _("Time of day")
        DATETIME = "datetime", _("Date and time")
        SHORT_TEXT = "short_text", _("Short text")
        LONG_TEXT = "long_text", _("Long text")

    class EnableBehavior(models.TextChoices):
        ALL = "all", _("all conditions")
        ANY = "any", _("any condition")

    frozen_code_field = "link_id"

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="items", verbose_name=_("questionnaire")
    )
    section = models.ForeignKey(
        Section,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="items",
        verbose_name=_("section / page"),
    )
    order = models.PositiveIntegerField(_("order"), default=0)
    link_id = models.CharField(_("code (linkId)"), max_length=40, validators=[code_validator])
    type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    text_fr = models.TextField(_("text (French)"), blank=True)
    text_en = models.TextField(_("text (English)"), blank=True)
    help_fr = models.TextField(_("help (French)"), blank=True)
    help_en = models.TextField(_("help (English)"), blank=True)
    required = models.BooleanField(_("required"), default=False)
    min_value = models.DecimalField(_("minimum"), max_digits=12, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField(_("maximum"), max_digits=12, decimal_places=4, null=True, blank=True)
    max_length = models.PositiveIntegerField(_("maximum length"), null=True, blank=True)
    enable_behavior = models.CharField(
        _("show when"), max_length=3, choices=EnableBehavior.choices, default=EnableBehavior.ALL
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        ordering = ["questionnaire", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["questionnaire", "link_id"], name="item_code_unique_in_questionnaire"),
            models.CheckConstraint(
                condition=models.Q(min_value__isnull=True)
                | models.Q(max_value__isnull=True)
                | models.Q(min_value__lt=models.F("max_value")),
                name="item_min_below_max",
            ),
        ]

    def __str__(self) -> str:
        return self.link_id

    @property
    def study_id_for_rules(self) -> int:
        return self.questionnaire.study_id

    @property
    def has_options(self) -> bool:
        return self.type in (self.Type.SINGLE, self.Type.MULTIPLE)


class AnswerOption(FrozenCodeMixin, models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="options", verbose_name=_("item"))
    order = models.PositiveIntegerField(_("order"), default=0)
    code = models.CharField(_("code"), max_length=40, validators=[option_code_validator])
    label_fr = models.CharField(_("label (French)"), max_length=300, blank=True)
    label_en = models.CharField(_("label (English)"), max_length=300, blank=True)
    score = models.DecimalField(_("score"), max_digits=8, decimal_places=3, null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("answer option")
        verbose_name_plural = _("answer options")
        ordering = ["item", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["item", "code"], name="option_code_unique_in_item")]

    def __str__(self) -> str:
        return f"{self.code} — {self.label_fr or self.label_en}"

    @property
    def study_id_for_rules(self) -> int:
        return self.item.questionnaire.study_id


class EnableCondition(models.Model):
    """Show the item only when another item's answer meets this test (FHIR enableWhen)."""

    class Operator(models.TextChoices):
        EQ = "=", "="
        NE = "!=", "≠"
        LT = "<", "<"
        GT = ">", ">"
        LE = "<=", "≤"
        GE = ">=", "≥"
        EXISTS = "exists", _("is answered / not answered")

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="conditions", verbose_name=_("item"))
    question = models.CharField(_("when item (code)"), max_length=40, help_text=_("Code (linkId) of an earlier item."))
    operator = models.CharField(_("operator"), max_length=6, choices=Operator.choices, default=Operator.EQ)
    answer = models.CharField(
        _("answer"),
        max_length=100,
        blank=True,
        help_text=_("An option code, a number, yes/no, or a date (YYYY-MM-DD); for 'exists': true or false."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("display condition")
        verbose_name_plural = _("display conditions")
        ordering = ["item", "id"]

    def __str__(self) -> str:
        return f"{self.question} {self.operator} {self.answer}"

    @property
    def study_id_for_rules(self) -> int:
        return self.item.questionnaire.study_id


class ImmutableVersionError(Exception):
    """Raised on any attempt to change or delete a published questionnaire version."""


class QuestionnaireVersionQuerySet(models.QuerySet):
    # Bulk paths bypass save()/delete(); close them too, so immutability holds
    # for every caller and not only for the admin.
    def update(self, **kwargs):
        raise ImmutableVersionError("Published questionnaire versions cannot be changed.")

    def delete(self):
        raise ImmutableVersionError("Published questionnaire versions cannot be deleted.")


class QuestionnaireVersion(models.Model):
    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.PROTECT, related_name="versions", verbose_name=_("questionnaire")
    )
    number = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("definition (FHIR Questionnaire)"))
    content_hash = models.CharField(_("content hash (SHA-256)"), max_length=64)
    published_at = models.DateTimeField(_("published at"), auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
    )
    # Sign-off (surveys.review.rounds), set at creation: the round whose approvals let it through, or the override.
    approved_round = models.ForeignKey(
        "surveys.ReviewRound",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approved_versions",
        verbose_name=_("approved by review round"),
    )
    override = models.ForeignKey(
        "surveys.PublishOverride",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="versions",
        verbose_name=_("published with override"),
    )

    objects = QuestionnaireVersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("published version")
        verbose_name_plural = _("published versions")
        ordering = ["questionnaire", "-number"]
        get_latest_by = "number"
        constraints = [
            models.UniqueConstraint(fields=["questionnaire", "number"], name="version_number_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="version_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.questionnaire} v{self.number}"

    @property
    def study_id_for_rules(self) -> int:
        return self.questionnaire.study_id

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableVersionError(f"{self} is published and cannot be changed.")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableVersionError(f"{self} is published and cannot be deleted.")
