"""Sign-in policy for staff accounts."""

from allauth.account.adapter import DefaultAccountAdapter


class NoSignupAccountAdapter(DefaultAccountAdapter):
    """Staff accounts are created by a study administrator; nobody signs themselves up."""

    def is_open_for_signup(self, request) -> bool:
        return False

    def get_login_redirect_url(self, request) -> str:
        # Reviewers (invited, never staff) have no use for the admin: their page is /review/.
        if request.user.is_authenticated and not request.user.is_staff:
            return "/review/"
        return super().get_login_redirect_url(request)


def axes_username(request, credentials: dict | None = None) -> str | None:
    """The account a sign-in attempt reaches, as django-axes counts it (AXES_USERNAME_CALLABLE).

    allauth authenticates `designer`, `DESIGNER` and the account's e-mail as the same account, so
    failures and the lockout are kept under its canonical username whatever spelling was typed; a
    login matching no account is counted under its lower-cased text (so its spellings share a count).
    allauth passes {"username": ...} or {"email": ..., "username": ...}; without credentials (axes'
    middleware), the login is the posted "login" field.
    """
    from django.contrib.auth import get_user_model

    if credentials:
        login = credentials.get("username") or credentials.get("email")
    else:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        login = data.get("login") or data.get("username")
    if not login:
        return None
    login = str(login).strip()
    users = get_user_model().objects
    by_username = list(users.filter(username__iexact=login).values_list("username", flat=True)[:2])
    if len(by_username) == 1:
        return by_username[0]
    if "@" in login:
        from allauth.account.models import EmailAddress

        by_email = set(users.filter(email__iexact=login).values_list("username", flat=True)[:2])
        by_email |= set(EmailAddress.objects.filter(email__iexact=login).values_list("user__username", flat=True)[:2])
        if len(by_email) == 1:
            return by_email.pop()
    return login.lower()
