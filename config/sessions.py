"""Signed-in sessions end after a working day without activity (SESSION_COOKIE_AGE).

Django counts a session's age from its last save, and saves only when the session changes. Saving
on every request (SESSION_SAVE_EVERY_REQUEST) would cost a write per page; instead a signed-in
user's session is touched at most once per SESSION_ACTIVITY_REFRESH seconds, so its expiry
follows the last activity to within that step. Anonymous sessions (patients have none) are left
alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

LAST_SEEN = "last_seen"


class SessionActivityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            if now - request.session.get(LAST_SEEN, 0) >= settings.SESSION_ACTIVITY_REFRESH:
                request.session[LAST_SEEN] = now  # marks it modified: saved with a new expiry
        return self.get_response(request)
