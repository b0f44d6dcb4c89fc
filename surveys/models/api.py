"""Personal API tokens: a program acts as the staff member who made the token.

The token itself is shown once, when it is made; the database keeps only its SHA-256
(like patient links), plus a short prefix so that its owner can recognise it in a list.
A token grants nothing of its own: every request is checked against its owner's study
roles and site scopes (surveys/rules.py) at that moment, so a membership removed is access
removed. It may be narrowed further to some of those studies, and it may expire.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.models.study import Study


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    label = models.CharField(_("label"), max_length=100, help_text=_('What the token is for, e.g. "R analysis".'))
    # The first characters of the token ("rst_" + 8), enough to tell one's tokens apart, useless to guess one.
    prefix = models.CharField(_("starts with"), max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # Empty: every study where the owner has a role (now or later).
    studies = models.ManyToManyField(Study, blank=True, related_name="+", verbose_name=_("only these studies"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.label} ({self.prefix}…)"

    def is_usable(self, *, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)
