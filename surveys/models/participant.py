"""Participants (pseudonyms only), their assignments and responses."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from surveys.models.audit import AuditRecord
from surveys.models.questionnaire import QuestionnaireVersion
from surveys.models.schedule import Timepoint
from surveys.models.study import Site, Study


class Participant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        COMPLETED = "completed", _("Completed follow-up")

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="participants", verbose_name=_("study"))
    pseudonym = models.CharField(_("pseudonym"), max_length=40)
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="participants", verbose_name=_("site")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Copied from the enrolment so that patient pages speak the patient's
    # language without reaching into the identity domain.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="fr")
    # Keyed digest of the year of birth for the optional link check (surveys.answering.access); the
    # year itself stays in the identity domain. Set at enrolment.
    link_check_digest = models.CharField(max_length=64, blank=True, editable=False)
    # Research-side facts about consent and withdrawal (the record itself is in `patients`):
    # questionnaires stay closed until consented_at is set when the study requires consent.
    consented_at = models.DateTimeField(_("consent recorded at"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["link_check_digest"])

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        ordering = ["study", "pseudonym"]
        constraints = [models.UniqueConstraint(fields=["study", "pseudonym"], name="pseudonym_unique_in_study")]

    def __str__(self) -> str:
        return self.pseudonym

    @property
    def study_id_for_rules(self) -> int:
        return self.study_id

    def clean(self) -> None:
        if self.site_id and self.study_id and self.site.study_id != self.study_id:
            raise ValidationError({"site": _("This site belongs to another study.")})


class Assignment(models.Model):
    """One participant × one timepoint: when it opens and closes, and where it stands."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        OPEN = "open", _("Open")
        COMPLETED = "completed", _("Completed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("participant")
    )
    timepoint = models.ForeignKey(
        Timepoint, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("timepoint")
    )
    occurrence = models.PositiveIntegerField(
        default=1, help_text=_("1 for single timepoints; n for repeats."), verbose_name=_("occurrence")
    )
    due_at = models.DateTimeField(_("opens at"))
    expires_at = models.DateTimeField(_("closes at"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PLANNED)
    # SHA-256 of the link token; the token itself is only ever in the message sent.
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    # Bumped to revoke a link (surveys.answering.links.assignment_link_revoke): the token is derived from it.
    token_version = models.PositiveSmallIntegerField(default=1, editable=False)
    # Channel of the first message that reached the provider for this assignment ("sms", "email"),
    # written by patients/messaging/dispatch.py: exports report it without reading the identity side.
    invitation_channel = models.CharField(_("invited by"), max_length=8, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["token_hash", "token_version"])

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "timepoint", "occurrence"], name="assignment_unique_per_timepoint"
            ),
            models.CheckConstraint(condition=models.Q(expires_at__gt=models.F("due_at")), name="assignment_window"),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="assignment_status_due")]

    def __str__(self) -> str:
        return f"{self.participant.pseudonym} · {self.timepoint.code}"

    @property
    def study_id_for_rules(self) -> int:
        return self.participant.study_id


class Response(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")

    class Source(models.TextChoices):
        # Where the answers come from: exports and the API carry it, so an analysis can tell.
        PATIENT = "patient", _("Answered by the patient")
        IMPORTED = "imported", _("Imported")
        CORRECTED = "corrected", _("Corrected after submission")

    # One response per assignment, enforced by the database: a double submit
    # can only ever update this row, never create a second one.
    assignment = models.OneToOneField(
        Assignment, on_delete=models.PROTECT, related_name="response", verbose_name=_("assignment")
    )
    version = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.PROTECT, related_name="responses", verbose_name=_("version")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    answers = models.JSONField(_("answers by linkId"), default=dict, blank=True)
    scores = models.JSONField(_("scores"), default=dict, blank=True)
    # Index of the first page not yet saved: where a patient resumes.
    next_page = models.PositiveIntegerField(default=0, verbose_name=_("next page"))
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.PATIENT)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("response")
        verbose_name_plural = _("responses")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="in_progress", submitted_at__isnull=True)
                | models.Q(status="completed", submitted_at__isnull=False),
                name="response_submitted_iff_completed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.assignment} ({self.get_status_display()})"

    @property
    def study_id_for_rules(self) -> int:
        return self.assignment.participant.study_id


class ResponseCorrection(AuditRecord):
    """One answer of a submitted response changed on the patient's request: who, when, old, new, why.

    The only way a submitted answer changes (ICH E6(R3), 21 CFR 11.10(e)). Rows are never
    changed or deleted, except with the response itself when a withdrawing patient asks for erasure.
    """

    response = models.ForeignKey(
        Response, on_delete=models.CASCADE, related_name="corrections", verbose_name=_("response")
    )
    link_id = models.CharField(_("question"), max_length=255)
    # The stored answer before and after (None: unanswered), as Response.answers holds it.
    old_value = models.JSONField(_("old value"), null=True, blank=True)
    new_value = models.JSONField(_("new value"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=500)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("corrected by")
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("answer correction")
        verbose_name_plural = _("answer corrections")
        ordering = ["response", "at", "id"]

    def __str__(self) -> str:
        return f"{self.response_id}/{self.link_id} @ {self.at:%Y-%m-%d %H:%M}"

    @property
    def study_id_for_rules(self) -> int:
        return self.response.assignment.participant.study_id


class LinkCheckLock(models.Model):
    """A patient link locked after too many wrong years of birth: shown to the study team.

    Each lock of the same link lasts longer than the one before (surveys.answering.access); the
    rows hold no answer and no address, only which link, when and until when.
    """

    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="link_check_locks", verbose_name=_("assignment")
    )
    locked_at = models.DateTimeField(_("locked at"))
    locked_until = models.DateTimeField(_("locked until"))
    # 1 for the first lock of this link, 2 for the next...
    level = models.PositiveSmallIntegerField(_("lock number"), default=1)

    class Meta:
        verbose_name = _("locked link")
        verbose_name_plural = _("locked links")
        ordering = ["-locked_at", "-id"]

    def __str__(self) -> str:
        return f"{self.assignment} @ {self.locked_at:%Y-%m-%d %H:%M}"

    @property
    def study_id_for_rules(self) -> int:
        return self.assignment.participant.study_id
