"""Log masking. A secret in a URL (a patient link, a pre-screening link, a reviewer invitation, a
password-reset or e-mail confirmation key) is a key to someone's data or account: never write it to
a log. SECRET_PATHS is the one list; Django's loggers (RedactLinkTokens), gunicorn's access log
(config/gunicorn.conf.py) and the nginx recipe (docs/nginx.conf, same prefixes) all mask with it.
"""

import logging
import re

# Path prefixes followed by a secret segment (every URL pattern carrying a token; tests/project/test_request_log.py
# enumerates the resolver and fails on a token route missing here).
SECRET_PATHS = (
    "/s/",  # patient link (and its /consent, /withdraw pages)
    "/e/",  # pre-screening link (and /end, /consent, /enrol, /done)
    "/review/invitation/",  # expert-patient reviewer invitation
    "/staff-invitation/",  # staff invitation (password, then first authenticator)
    "/accounts/password/reset/key/",  # allauth password reset key
    "/accounts/confirm-email/",  # allauth e-mail confirmation key
)
# Query parameters whose value is a secret.
SECRET_QUERY_PARAMS = ("token", "key", "code", "signature", "sig", "secret", "password")

TOKEN = "[token]"
_SEGMENT = r"[^/\s?#\"']+"
SECRET_IN_TEXT = re.compile(
    "("
    + "|".join(re.escape(p) for p in SECRET_PATHS)
    + ")"
    + _SEGMENT
    + r"|([?&](?:"
    + "|".join(SECRET_QUERY_PARAMS)
    + r")=)[^&\s#\"']+"
)


def mask_secrets(text: str) -> str:
    """`text` with every secret of a URL in it replaced by [token]."""
    if not text:
        return text
    return SECRET_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + TOKEN, text)


class RedactLinkTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = mask_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class ClientErrorsWithoutTraceback(logging.Filter):
    """A refused request (403, 404, 400: the client's side) logs one line, without the traceback Django attaches.

    The refusal is expected and its cause is in the line (status, path); tracebacks are kept for 5xx, where
    they are what someone needs to read."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
