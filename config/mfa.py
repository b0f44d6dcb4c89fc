"""Two-factor sign-in for staff who can see identities.

* The Django admin's own login form asks only a password; its login page sends people to
  allauth's login instead, which asks the TOTP code of users who have one (allauth's
  `secure_admin_login` does the same, as a decorator on admin.site.login).
* With settings.RESSENTI_REQUIRE_MFA (always on in production), an investigator of any study,
  or a superuser, who has not activated TOTP gets nothing but the activation from every path a
  session reaches: HTML pages redirect to allauth's activation page, /api/ answers 403 in JSON like
  DRF. Only logout, the activation page and the password confirmation it asks for, and static files
  stay reachable, so they can always finish activating or sign out.
* An API request carrying a token (`Authorization: Bearer ...`) is judged by its token, not by the
  session cookie it may also carry (DRF tries the token first; any other header is not a token): tokens are made at /staff/api/tokens/,
  a session page, so only a session that passed the factor can have made one.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _

from config.staff_invites import ask_for_new_invitation, session_came_through_invitation

# Pages a signed-in user missing the factor may still reach: sign out, activate TOTP (allauth asks the
# password again before showing the secret).
REACHABLE_WITHOUT_FACTOR = {
    "account_logout",
    "admin:logout",
    "mfa_activate_totp",
    "account_reauthenticate",
    "staff_invitation",
}
API_PREFIX = "/api/"


def carries_api_token(request: HttpRequest) -> bool:
    """An Authorization header the API's token authentication takes (it then authenticates or fails
    with 401); any other header (Basic...) would fall through to the session."""
    from surveys.api.auth import KEYWORDS

    parts = request.headers.get("Authorization", "").encode("latin-1", "replace").split()
    return bool(parts) and parts[0].lower() in KEYWORDS


def reachable_without_factor(path: str) -> bool:
    if settings.STATIC_URL and path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return True
    try:
        return resolve(path).view_name in REACHABLE_WITHOUT_FACTOR
    except Resolver404:
        return False


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
        if path == reverse("admin:login") and not request.user.is_authenticated:
            return self._to_allauth_login(request)
        if (
            path == reverse("mfa_activate_totp")
            and request.user.is_authenticated
            and not has_totp(request.user)
            and not session_came_through_invitation(request)
        ):
            # A first authenticator only from an invitation session: a password alone must not let
            # someone enrol their own authenticator on the account.
            return ask_for_new_invitation(request)
        if path.startswith(API_PREFIX) and carries_api_token(request):
            return self.get_response(request)  # a token request: see the module's docstring
        if mfa_missing(request.user) and not reachable_without_factor(path):
            if path.startswith(API_PREFIX):
                return JsonResponse(
                    {"detail": _("Activate a second factor (TOTP) on your account before using the API.")}, status=403
                )
            return HttpResponseRedirect(f"{reverse('mfa_activate_totp')}?{urlencode({REDIRECT_FIELD_NAME: path})}")
        return self.get_response(request)

    @staticmethod
    def _to_allauth_login(request: HttpRequest) -> HttpResponse:
        next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("admin:index")
        return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
