"""Two-factor sign-in for staff who can see identities (issue 4, identity vault).

* The Django admin's own login form asks only a password; its login page sends people to
  allauth's login instead, which asks the TOTP code of users who have one (allauth's
  `secure_admin_login` does the same, as a decorator on admin.site.login).
* With settings.RESSENTI_REQUIRE_MFA (always on in production), an investigator of any study,
  or a superuser, who has not activated TOTP is sent to allauth's activation page from every
  staff page (/admin/, /staff/) until they do. allauth's own pages (/accounts/...), logout and
  static files stay reachable, so they can always finish activating or sign out.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

STAFF_PREFIXES = ("/admin/", "/staff/")


def sees_identities(user) -> bool:
    """Superusers and investigators (of any study): the accounts that can reach identities."""
    from surveys.rules import INVESTIGATOR, has_role, is_superuser

    return bool((is_superuser | has_role(INVESTIGATOR)).test(user))


def has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def mfa_missing(user) -> bool:
    """True when the policy asks this signed-in user for a second factor they have not set up."""
    return bool(
        settings.RESSENTI_REQUIRE_MFA and user.is_authenticated and sees_identities(user) and not has_totp(user)
    )


class RequireMFAMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(STAFF_PREFIXES):
            admin_login, admin_logout = reverse("admin:login"), reverse("admin:logout")
            if path == admin_login and not request.user.is_authenticated:
                return self._to_allauth_login(request)
            if path != admin_logout and mfa_missing(request.user):
                return HttpResponseRedirect(f"{reverse('mfa_activate_totp')}?{urlencode({REDIRECT_FIELD_NAME: path})}")
        return self.get_response(request)

    @staticmethod
    def _to_allauth_login(request: HttpRequest) -> HttpResponse:
        next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            next_url = reverse("admin:index")
        return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
