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
