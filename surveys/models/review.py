"""Expert-patient review of drafts: panels, rounds, feedback, sign-off.

Reviewers are Django users who are not staff; they reach only the rounds of the panels they
belong to, never patient data. A round freezes the definition it asks about (and its hash),
so feedback, approvals and the publish check all refer to exactly what was read.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from surveys.models.audit import AuditRecord
from surveys.models.questionnaire import Questionnaire
from surveys.models.study import Study

RATING = [MinValueValidator(1), MaxValueValidator(5)]


class Panel(models.Model):
    """Reviewers of one study, or of the whole site when `study` is empty."""

    study = models.ForeignKey(
        Study, on_delete=models.CASCADE, null=True, blank=True, related_name="panels", verbose_name=_("study")
    )
    code = models.SlugField(_("code"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("review panel")
        verbose_name_plural = _("review panels")
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["code"], name="panel_code_unique")]

    def __str__(self) -> str:
        return self.title or self.code

    @property
    def study_id_for_rules(self) -> int | None:
        return self.study_id


class PanelMember(models.Model):
    class Kind(models.TextChoices):
        EXPERT_PATIENT = "expert_patient", _("Expert patient")
        PRACTITIONER = "practitioner", _("Practitioner")

    panel = models.ForeignKey(Panel, on_delete=models.CASCADE, related_name="members", verbose_name=_("panel"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="panel_memberships", verbose_name=_("user")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.EXPERT_PATIENT)
    # The invitation link: only its hash is kept; accepted_at is set when the reviewer sets a password.
    invitation_hash = models.CharField(max_length=64, blank=True, editable=False)
    invited_at = models.DateTimeField(_("invited at"), null=True, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    # The language of the invitation, reminders and (until they switch) the reviewer pages.
    language = models.CharField(_("language"), max_length=2, choices=settings.LANGUAGES, default="fr")
    history = HistoricalRecords(excluded_fields=["invitation_hash"])

    class Meta:
        verbose_name = _("panel member")
        verbose_name_plural = _("panel members")
        constraints = [models.UniqueConstraint(fields=["panel", "user"], name="panel_member_once")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.panel}"

    @property
    def study_id_for_rules(self) -> int | None:
        return self.panel.study_id


class ReviewRound(AuditRecord):
    """A panel is asked to review one draft (and optionally the study's notice and schedule) by a deadline."""

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="review_rounds", verbose_name=_("questionnaire")
    )
    panel = models.ForeignKey(Panel, on_delete=models.PROTECT, related_name="rounds", verbose_name=_("panel"))
    title = models.CharField(_("title"), max_length=200, blank=True)
    instructions = models.TextField(_("instructions to reviewers"), blank=True)
    # What the reviewers read, frozen at opening: the draft's definition and its content hash.
    definition = models.JSONField(_("definition reviewed"), editable=False)
    content_hash = models.CharField(_("content hash reviewed"), max_length=64, editable=False)
    includes_notice = models.BooleanField(_("also review the information notice"), default=False)
    includes_schedule = models.BooleanField(_("also review the schedule"), default=False)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("opened by")
    )
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    deadline = models.DateTimeField(_("deadline"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["definition"])

    class Meta:
        verbose_name = _("review round")
        verbose_name_plural = _("review rounds")
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return self.title or f"{self.questionnaire} ({self.opened_at:%Y-%m-%d})"

    @property
    def study_id_for_rules(self) -> int:
        return self.questionnaire.study_id


class ItemFeedback(AuditRecord):
    """One reviewer's feedback on one item (linkId) of a round, and the designer's answer to it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")
        DECLINED = "declined", _("Declined")

    round = models.ForeignKey(
        ReviewRound, on_delete=models.CASCADE, related_name="item_feedback", verbose_name=_("review round")
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("reviewer")
    )
    link_id = models.CharField(_("item"), max_length=100)
    clarity = models.PositiveSmallIntegerField(_("clarity"), null=True, blank=True, validators=RATING)
    relevance = models.PositiveSmallIntegerField(_("relevance"), null=True, blank=True, validators=RATING)
    acceptability = models.PositiveSmallIntegerField(_("acceptability"), null=True, blank=True, validators=RATING)
    comment = models.TextField(_("comment"), blank=True)
    suggestion = models.TextField(_("suggested wording"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    reply = models.TextField(_("designer's reply"), blank=True)
    reason = models.TextField(_("reason"), blank=True, help_text=_("Why it was resolved this way or declined."))
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("item feedback")
        verbose_name_plural = _("item feedback")
        ordering = ["round", "link_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["round", "reviewer", "link_id"], name="item_feedback_once"),
            *(
                models.CheckConstraint(
                    condition=models.Q(**{f"{f}__isnull": True}) | models.Q(**{f"{f}__range": (1, 5)}),
                    name=f"item_feedback_{f}_1_to_5",
                )
                for f in ("clarity", "relevance", "acceptability")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.link_id} ({self.round_id})"

    @property
    def study_id_for_rules(self) -> int:
        return self.round.questionnaire.study_id


class ReviewSubmission(AuditRecord):
    """A reviewer's overall view of a round: burden, timing, comments, and approval of the hash they read."""

    class Timing(models.TextChoices):
        TOO_EARLY = "too_early", _("Too early")
        RIGHT = "right", _("About right")
        TOO_LATE = "too_late", _("Too late")
        TOO_OFTEN = "too_often", _("Too often")

    round = models.ForeignKey(
        ReviewRound, on_delete=models.CASCADE, related_name="submissions", verbose_name=_("review round")
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("reviewer")
    )
    burden = models.PositiveSmallIntegerField(
        _("burden"), null=True, blank=True, validators=RATING, help_text=_("1 = very light, 5 = far too long.")
    )
    timing = models.CharField(_("timing of the schedule"), max_length=12, choices=Timing.choices, blank=True)
    comments = models.TextField(_("comments"), blank=True)
    notice_comments = models.TextField(_("comments on the information notice"), blank=True)
    approved = models.BooleanField(_("approved"), default=False)
    approved_hash = models.CharField(_("content hash approved"), max_length=64, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("review submission")
        verbose_name_plural = _("review submissions")
        constraints = [models.UniqueConstraint(fields=["round", "reviewer"], name="review_submission_once")]

    def __str__(self) -> str:
        return f"{self.reviewer} → {self.round}"

    @property
    def study_id_for_rules(self) -> int:
        return self.round.questionnaire.study_id


class ReviewReminder(models.Model):
    """A deadline reminder sent to one reviewer for one round: inserting the row claims it, so it goes once."""

    round = models.ForeignKey(
        ReviewRound, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("review round")
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("reviewer")
    )
    days_before = models.PositiveSmallIntegerField(verbose_name=_("days before the deadline"))
    sent_at = models.DateTimeField(verbose_name=_("sent at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "reviewer", "days_before"], name="review_reminder_once")
        ]

    def __str__(self) -> str:
        return f"{self.round_id}/{self.reviewer_id} −{self.days_before}d"

    @property
    def study_id_for_rules(self) -> int:
        return self.round.questionnaire.study_id


class PublishOverride(AuditRecord):
    """Audit row: a version published without the sign-off the study asks for, who did it and why."""

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.PROTECT, related_name="publish_overrides", verbose_name=_("questionnaire")
    )
    content_hash = models.CharField(_("content hash published"), max_length=64)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("overridden by")
    )
    at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField(_("reason"))

    class Meta:
        verbose_name = _("publish override")
        verbose_name_plural = _("publish overrides")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.questionnaire} @ {self.at:%Y-%m-%d %H:%M}"

    @property
    def study_id_for_rules(self) -> int:
        return self.questionnaire.study_id
