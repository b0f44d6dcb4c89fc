"""Log filters. A patient link token is a key to someone's questionnaire: never write it to a log."""

import logging
import re

TOKEN_IN_PATH = re.compile(r"(/s/)[A-Za-z0-9_-]+")


class RedactLinkTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = TOKEN_IN_PATH.sub(r"\1[token]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
