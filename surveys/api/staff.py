"""Staff page /staff/api/tokens/: make, list and revoke one's own API tokens.

Thin view over surveys/api/tokens.py. Anyone signed in with a role in a study (or a superuser)
may make tokens for themselves; a token is shown once, on the page that made it, and never
again. Each member sees and revokes only their own tokens.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from surveys.api.tokens import LABEL_MAX, TokenRefused, api_token_create, api_token_revoke, api_tokens_of
from surveys.models import ApiToken
from surveys.staff.selectors import studies_for_user

EXPIRY_CHOICES = [
    ("30", gettext_lazy("in 30 days")),
    ("90", gettext_lazy("in 90 days")),
    ("365", gettext_lazy("in a year")),
    ("", gettext_lazy("never (revoke it when no longer needed)")),
]


class TokenForm(forms.Form):
    label = forms.CharField(
        label=gettext_lazy("Label"),
        max_length=LABEL_MAX,
        help_text=gettext_lazy('What the token is for, e.g. "R analysis".'),
    )
    expires = forms.ChoiceField(
        label=gettext_lazy("Expires"), choices=EXPIRY_CHOICES, initial="90", required=False, widget=forms.RadioSelect
    )
    studies = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Only these studies"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: every study where you have a role, now or later."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["studies"].queryset = studies_for_user(user=user).order_by("code")


def _render(
    request: HttpRequest, form: TokenForm, *, made: tuple[ApiToken, str] | None = None, status: int = 200
) -> HttpResponse:
    now = timezone.now()
    tokens = list(api_tokens_of(user=request.user))
    context = {
        **admin.site.each_context(request),
        "title": _("API tokens"),
        "form": form,
        "has_studies": studies_for_user(user=request.user).exists(),
        "rows": [
            {"token": t, "usable": t.is_usable(now=now), "expired": t.revoked_at is None and not t.is_usable(now=now)}
            for t in tokens
        ],
        "made": made[0] if made else None,
        "made_text": made[1] if made else "",
        "api_url": request.build_absolute_uri("/api/"),
        "docs_url": reverse("api-docs"),
    }
    return render(request, "staff/api_tokens.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("action") == "revoke":
        raw_id = request.POST.get("token", "")
        token = (
            ApiToken.objects.filter(user=request.user, pk=int(raw_id)).first()
            if re.fullmatch(r"[0-9]{1,18}", raw_id)
            else None
        )
        if token is None:
            raise Http404(_("No such token among yours."))
        if api_token_revoke(token=token):
            messages.success(
                request,
                _("Token %(label)s revoked: programs using it are refused from now on.") % {"label": token.label},
            )
        return HttpResponseRedirect(request.path)
    if request.method == "POST":
        form = TokenForm(request.POST, user=request.user)
        if form.is_valid():
            days = form.cleaned_data["expires"]
            expires_at = timezone.now() + timedelta(days=int(days)) if days else None
            try:
                made = api_token_create(
                    user=request.user,
                    label=form.cleaned_data["label"],
                    expires_at=expires_at,
                    studies=form.cleaned_data["studies"],
                )
            except TokenRefused as refused:
                form.add_error(None, str(refused))
            else:
                # Shown on this answer only (never stored, never cached): no redirect.
                return _render(request, TokenForm(user=request.user), made=made)
        return _render(request, form, status=400)
    return _render(request, TokenForm(user=request.user))
