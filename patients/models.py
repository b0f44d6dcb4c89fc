"""Identity domain: who a person is and how to reach them. Restricted access.

This app may import `surveys`; `surveys` never imports it (tests/project/test_boundaries.py).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from patients.identity.contacts import contact_digests_refresh
from patients.identity.crypto import EncryptedTextField
from surveys.models import Assignment, ConsentNotice, Participant
from surveys.models.audit import AuditRecord
from surveys.models.study import validate_time_zone


class Patient(models.Model):
    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")

    # Encrypted at rest (patients/identity/crypto.py); history rows hold ciphertext too (an import writes the row's own; a single save encrypts again).
    name = EncryptedTextField(_("name"))
    email = EncryptedTextField(_("email"), blank=True)
    phone = EncryptedTextField(_("phone (E.164)"), blank=True)
    birth_date = EncryptedTextField(_("date of birth (YYYY-MM-DD)"), blank=True)
    # Keyed digests (patients.identity.contacts.blind_index) of the normalised email and phone: they find
    # duplicates without decrypting every row, and reveal nothing without BLIND_INDEX_KEY.
    email_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    phone_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Paris", validators=[validate_time_zone])
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="fr")
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=8, choices=Channel.choices, default=Channel.SMS
    )
    # Set by an inbound "STOP" SMS or a bounced address: that channel is never used again.
    sms_opted_out_at = models.DateTimeField(_("SMS opt-out"), null=True, blank=True)
    email_undeliverable_at = models.DateTimeField(_("email undeliverable"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["email_digest", "phone_digest"])

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")

    def __str__(self) -> str:
        # Never the name: __str__ ends up in logs, admin messages and errors.
        return f"Patient #{self.pk}"

    def clean(self) -> None:
        if self.preferred_channel == self.Channel.SMS and not self.phone:
            raise ValidationError({"phone": _("A phone number is needed to reach this patient by SMS.")})
        if self.preferred_channel == self.Channel.EMAIL and not self.email:
            raise ValidationError({"email": _("An email address is needed to reach this patient by email.")})

    def save(self, *args, **kwargs):
        # Whatever path wrote the contact data, the blind indexes follow what is stored, so a
        # STOP from the number and the duplicate check find this patient (patients/identity/contacts.py).
        contact_digests_refresh(self)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"email", "phone"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "email_digest", "phone_digest"}
        return super().save(*args, **kwargs)


class Enrollment(models.Model):
    """The only link from a person to a study pseudonym."""

    class ConsentMethod(models.TextChoices):
        PENDING = "pending", _("Pending: the patient will consent from their link")
        WRITTEN = "written", _("Written consent")
        ELECTRONIC = "electronic", _("Electronic consent")
        NON_OPPOSITION = "non_opposition", _("Non-opposition (oral, recorded)")

    class WithdrawnBy(models.TextChoices):
        INVESTIGATOR = "investigator", _("Investigator")
        PATIENT = "patient", _("Patient, from a link")

    class WithdrawalData(models.TextChoices):
        KEEP = "keep", _("Keep the data already collected")
        DELETE = "delete", _("Delete the data already collected")

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="enrollments", verbose_name=_("patient")
    )
    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, related_name="+", verbose_name=_("participant")
    )
    consent_method = models.CharField(
        _("consent"), max_length=16, choices=ConsentMethod.choices, default=ConsentMethod.PENDING
    )
    consent_document_version = models.CharField(_("information notice version"), max_length=40, blank=True)
    consent_recorded_at = models.DateTimeField(_("consent recorded at"), null=True, blank=True)
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("consent recorded by"),
    )
    enrolled_at = models.DateTimeField(_("enrolled at"))
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawn_by = models.CharField(_("withdrawn by"), max_length=16, choices=WithdrawnBy.choices, blank=True)
    withdrawal_data = models.CharField(
        _("data at withdrawal"), max_length=8, choices=WithdrawalData.choices, blank=True
    )
    # How many responses a withdrawal erased: the audit shows that deletion happened, never what.
    responses_deleted = models.PositiveIntegerField(default=0, verbose_name=_("responses deleted"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(withdrawn_at__isnull=True) | models.Q(withdrawn_at__gte=models.F("enrolled_at")),
                name="enrollment_withdrawn_after_enrolled",
            )
        ]

    def __str__(self) -> str:
        return f"Enrolment of {self.participant.pseudonym}"

    @property
    def study_id_for_rules(self) -> int:
        return self.participant.study_id


class ConsentRecord(AuditRecord):
    """A signed notice: immutable, with a hash over what was shown and what was signed."""

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.PROTECT, related_name="consent_records", verbose_name=_("enrolment")
    )
    notice = models.ForeignKey(
        ConsentNotice, on_delete=models.PROTECT, related_name="+", verbose_name=_("information notice")
    )
    method = models.CharField(_("consent"), max_length=16, choices=Enrollment.ConsentMethod.choices)
    typed_name = EncryptedTextField(_("name typed by the patient"), blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    record_hash = models.CharField(_("record hash (SHA-256)"), max_length=64)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-recorded_at"]

    def __str__(self) -> str:
        return f"Consent record #{self.pk}"

    @property
    def study_id_for_rules(self) -> int:
        return self.enrollment.participant.study_id

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("A consent record cannot be changed once signed.")
        return super().save(*args, **kwargs)


class ReidentificationEvent(AuditRecord):
    """Each time a staff member looked up who is behind a pseudonym: who, when and why."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("user")
    )
    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="+", verbose_name=_("participant")
    )
    reason = models.CharField(_("reason"), max_length=300)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("re-identification")
        verbose_name_plural = _("re-identifications")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"Re-identification of {self.participant.pseudonym}"

    @property
    def study_id_for_rules(self) -> int:
        return self.participant.study_id


class Message(models.Model):
    """One invitation or reminder to send, and what became of it."""

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")

    class Kind(models.TextChoices):
        INVITATION = "invitation", _("Invitation")
        REMINDER = "reminder", _("Reminder")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        QUEUED = "queued", _("Queued")
        # Handed to the provider, answer not recorded yet (patients/messaging/dispatch.py): a send task
        # that finds a row here long after the provider's timeout knows the outcome is unknown.
        SENDING = "sending", _("Sending")
        # The attempt's outcome is unknown (no answer in time, or the worker died mid-call): the
        # dispatcher asks the provider before anything is sent again.
        UNCONFIRMED = "unconfirmed", _("Checking with the provider")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.PROTECT, related_name="messages", verbose_name=_("enrolment")
    )
    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="+", verbose_name=_("assignment"))
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # 0 for the invitation, 1..5 for reminders: with the unique constraint below
    # a message can be planned once per assignment, whatever retries happen.
    sequence = models.PositiveSmallIntegerField(default=0, verbose_name=_("reminder number"))
    # 0 for the planned send; n for the n-th manual resend (an audited staff action).
    resend = models.PositiveSmallIntegerField(default=0, verbose_name=_("resend number"))
    scheduled_at = models.DateTimeField(_("send at"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PLANNED)
    provider_id = models.CharField(_("provider id"), max_length=128, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # When the current (or last) attempt began talking to the provider: a lookup of an
    # uncertain send only matches what the provider created since.
    sending_since = models.DateTimeField(_("attempt started at"), null=True, blank=True)
    # A temporary error deferred the next attempt until then (Retry-After or backoff): a queued
    # row waiting for it is not a lost task.
    retry_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["scheduled_at", "id"]
        constraints = [
            # The guard against double sends: one row per assignment × sequence × channel × resend, so
            # a second beat, a retried task or a double click finds the row taken. The channel is part
            # of it for the email fallback after a permanent SMS failure.
            models.UniqueConstraint(
                fields=["assignment", "sequence", "channel", "resend"], name="message_once_per_send"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="invitation", sequence=0) | models.Q(kind="reminder", sequence__gte=1),
                name="message_sequence_matches_kind",
            ),
        ]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="message_status_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.sequence} · {self.assignment_id}"

    @property
    def study_id_for_rules(self) -> int:
        return self.enrollment.participant.study_id


class MessageResend(AuditRecord):
    """A staff member sent a message again: who, when and why. Immutable, the audit of a resend.

    Message rows have no history on purpose (a row per send is its own log); the resend itself
    is a new Message row (resend n+1), and this row says who asked for it and why.
    """

    original = models.ForeignKey(
        Message, on_delete=models.PROTECT, related_name="+", verbose_name=_("original message")
    )
    message = models.OneToOneField(
        Message, on_delete=models.PROTECT, related_name="resend_record", verbose_name=_("new message")
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("resent by")
    )
    reason = models.CharField(_("reason"), max_length=300)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("message resend")
        verbose_name_plural = _("message resends")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"Resend #{self.pk} of message {self.original_id}"

    @property
    def study_id_for_rules(self) -> int:
        return self.message.enrollment.participant.study_id

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("A resend record cannot be changed.")
        return super().save(*args, **kwargs)


class SmsTemplate(models.Model):
    """A study's own wording of an SMS, per kind and language (the shipped text otherwise).

    Checked when saved (patients/admin.py, patients.messaging.texts.sms_template_check): only the
    sender and the two links may appear, and the length is counted the way GSM-7 counts it."""

    study = models.ForeignKey("surveys.Study", on_delete=models.CASCADE, related_name="+", verbose_name=_("study"))
    kind = models.CharField(_("kind"), max_length=16, choices=Message.Kind.choices)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    text = models.TextField(
        _("text"), help_text=_("Use {{ sender }}, {{ link }} and {{ withdraw_link }}; nothing that names the study.")
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("SMS template")
        verbose_name_plural = _("SMS templates")
        constraints = [models.UniqueConstraint(fields=["study", "kind", "language"], name="sms_template_unique")]

    def __str__(self) -> str:
        return f"{self.study.code} {self.kind} ({self.language})"

    @property
    def study_id_for_rules(self) -> int:
        return self.study_id
