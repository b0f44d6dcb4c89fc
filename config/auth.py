"""Sign-in policy for staff accounts."""

from allauth.account.adapter import DefaultAccountAdapter


class NoSignupAccountAdapter(DefaultAccountAdapter):
    """Staff accounts are created by a study administrator; nobody signs themselves up."""

    def is_open_for_signup(self, request) -> bool:
        return False
