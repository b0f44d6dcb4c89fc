"""Alerts raised by a response, and audited score recomputations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from surveys.models.audit import AuditRecord
from surveys.models.participant import Participant, Response
from surveys.models.questionnaire import QuestionnaireVersion
from surveys.models.study import Study


class Alert(models.Model):
    """One alert rule that fired for one response (surveys.scoring.alerts). Never holds answer content."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="alerts", verbose_name=_("study"))
    # Deleting a withdrawn participant's responses keeps an unacknowledged alert as a trace
    # without content (rule, participant, time) until an investigator has seen it.
    response = models.ForeignKey(
        Response, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts", verbose_name=_("response")
    )
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, null=True, related_name="alerts", verbose_name=_("participant")
    )
    rule = models.CharField(_("rule"), max_length=40)
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    # Claimed by the e-mail task with a conditional update: set once, e-mail sent once.
    notified_at = models.DateTimeField(_("investigators notified at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["response", "rule"], name="alert_once_per_rule_and_response")]

    def __str__(self) -> str:
        return f"{self.rule} ({self.response_id})"

    @property
    def study_id_for_rules(self) -> int:
        return self.study_id


class ScoreRecomputation(AuditRecord):
    """Audit row: who recomputed the scores of a version, when, and what changed."""

    version = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.PROTECT, related_name="recomputations", verbose_name=_("version")
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("run by"),
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    responses = models.PositiveIntegerField(_("responses recomputed"), default=0)
    changed = models.PositiveIntegerField(_("responses whose scores changed"), default=0)

    class Meta:
        verbose_name = _("score recomputation")
        verbose_name_plural = _("score recomputations")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.version} @ {self.at:%Y-%m-%d %H:%M}"

    @property
    def study_id_for_rules(self) -> int:
        return self.version.questionnaire.study_id
