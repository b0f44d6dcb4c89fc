"""Information notices shown for consent: study design, versioned and frozen once used."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from surveys.models.study import Study


class ConsentNotice(models.Model):
    """One version of a study's information notice, in one language. Immutable once created:
    consent records point to it and carry its hash."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="consent_notices", verbose_name=_("study"))
    version = models.CharField(_("version"), max_length=20, help_text=_("e.g. 1.0 or 2026-11-01"))
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"))
    content_hash = models.CharField(_("content hash (SHA-256)"), max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("information notice")
        verbose_name_plural = _("information notices")
        ordering = ["study", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["study", "version", "language"], name="notice_version_unique")]

    def __str__(self) -> str:
        return f"{self.study.code} notice {self.version} ({self.language})"

    @property
    def study_id_for_rules(self) -> int:
        return self.study_id

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("An information notice cannot be changed once created: add a new version.")
        self.content_hash = hashlib.sha256(f"{self.title}\n\n{self.text}".encode()).hexdigest()
        return super().save(*args, **kwargs)


class EligibilityRule(models.Model):
    """An inclusion or exclusion rule on an answer of the study's eligibility questionnaire."""

    class Kind(models.TextChoices):
        INCLUSION = "inclusion", _("Inclusion: must hold")
        EXCLUSION = "exclusion", _("Exclusion: must not hold")

    study = models.ForeignKey(
        Study, on_delete=models.CASCADE, related_name="eligibility_rules", verbose_name=_("study")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    question = models.CharField(_("item (code)"), max_length=40)
    operator = models.CharField(_("operator"), max_length=6, default="=")
    answer = models.CharField(_("answer"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("eligibility rule")
        verbose_name_plural = _("eligibility rules")
        ordering = ["study", "kind", "id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.question} {self.operator} {self.answer}"

    @property
    def study_id_for_rules(self) -> int:
        return self.study_id
