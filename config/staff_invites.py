"""Staff invitation links: the only way a session may set up an account's first authenticator.

Someone who learnt an investigator's password could otherwise sign in and enrol their own TOTP. An
invitation link, sent to the person's e-mail, proves more than the password: opening it sets the
password and marks that session; allauth's TOTP activation, for an account without an authenticator,
answers only such a session (config.mfa.RequireMFAMiddleware). The token is Django's password-reset
machinery under its own salt: it expires (STAFF_INVITATION_TIMEOUT) and is single use, since it
depends on the password hash and last_login, which accepting it changes.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode
from django.views.decorators.cache import never_cache

INVITED_SESSION_KEY = "ressenti.staff_invitation_user"


class StaffInvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "config.staff_invites.StaffInvitationTokenGenerator"

    def check_token(self, user, token) -> bool:
        # Same as Django's, with the invitation's own lifetime instead of PASSWORD_RESET_TIMEOUT.
        if not (user and token):
            return False
        try:
            ts_b36, _hash = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return False
        return (self._num_seconds(self._now()) - ts) <= settings.STAFF_INVITATION_TIMEOUT


invitation_tokens = StaffInvitationTokenGenerator()


def staff_invitation_path(user) -> str:
    """The invitation route for `user`: one path segment holding the user id and the token."""
    secret = f"{urlsafe_base64_encode(force_bytes(user.pk))}.{invitation_tokens.make_token(user)}"
    return reverse("staff_invitation", args=[secret])


def staff_invitation_user(secret: str):
    """The staff user a valid, unexpired, unused invitation secret belongs to, else None."""
    uid, _dot, token = secret.partition(".")
    try:
        user = get_user_model().objects.get(pk=force_str(urlsafe_base64_decode(uid)), is_active=True, is_staff=True)
    except (ValueError, TypeError, OverflowError, get_user_model().DoesNotExist):
        return None
    return user if invitation_tokens.check_token(user, token) else None


def session_came_through_invitation(request: HttpRequest) -> bool:
    return request.user.is_authenticated and request.session.get(INVITED_SESSION_KEY) == request.user.pk


@never_cache
def staff_invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    user = staff_invitation_user(token)
    if user is None:
        return render(request, "staff_invites/invalid.html", status=404)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        request.session[INVITED_SESSION_KEY] = user.pk
        return HttpResponseRedirect(reverse("mfa_activate_totp"))
    return render(request, "staff_invites/accept.html", {"form": form, "invited": user})


def ask_for_new_invitation(request: HttpRequest) -> HttpResponse:
    return render(request, "staff_invites/ask_for_new_link.html", status=403)


def staff_invitations_send(users) -> tuple[int, int]:
    """E-mail an invitation link to each active staff user with an address; (sent, skipped)."""
    from django.core.mail import send_mail
    from django.utils.translation import gettext as _

    sent = skipped = 0
    for user in users:
        if not (user.is_active and user.is_staff and user.email):
            skipped += 1
            continue
        link = settings.SITE_URL + staff_invitation_path(user)
        hours = settings.STAFF_INVITATION_TIMEOUT // 3600
        send_mail(
            _("Ressenti: set up your account"),
            _("Open this link to set your password and your authenticator app (valid %(hours)d hours, once): %(link)s")
            % {"hours": hours, "link": link},
            None,
            [user.email],
        )
        sent += 1
    return sent, skipped
