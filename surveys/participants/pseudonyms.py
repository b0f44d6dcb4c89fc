"""Study pseudonyms: unguessable, easy to read aloud and type, and typo-detecting.

Format: PREFIX-XXXXX-XXXXC, e.g. ST01-7F3K9-Q2M4X: nine Crockford base32 symbols
(45 bits) and one check symbol (value mod 37, Crockford's check alphabet), which
catches any single wrong symbol and any swap of two neighbours.

Random by default; or derived from an external identifier with HMAC-SHA-256 under
a per-study key kept outside the database (settings.PSEUDONYM_KEYS): the same
person then always gets the same pseudonym in a study, and pseudonyms of two
studies cannot be linked. The identifier itself is never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from surveys.models import Participant, Study

SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_SYMBOLS = SYMBOLS + "*~$=U"
DATA_LENGTH = 9
# Letters people confuse, read the way Crockford's base32 reads them.
READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


class PseudonymKeyMissing(ImproperlyConfigured):
    pass


def _value(symbols: str) -> int:
    number = 0
    for char in symbols:
        number = number * 32 + SYMBOLS.index(char)
    return number


def _check_symbol(symbols: str) -> str:
    return CHECK_SYMBOLS[_value(symbols) % 37]


def _format(prefix: str, symbols: str) -> str:
    body = symbols + _check_symbol(symbols)
    return f"{prefix}-{body[:5]}-{body[5:]}"


def normalise(typed: str) -> str:
    """What a person typed, as a pseudonym would be stored: upper case, O→0, I/L→1, dashes placed."""
    text = typed.strip().upper().replace(" ", "")
    if "-" not in text:
        return text
    prefix, _sep, rest = text.partition("-")
    rest = rest.replace("-", "").translate(READ_AS)
    return f"{prefix}-{rest[:5]}-{rest[5:]}"


def pseudonym_is_valid(value: str) -> bool:
    """True when the check symbol matches: a mistyped pseudonym is caught before any look-up."""
    prefix, _sep, rest = normalise(value).partition("-")
    body = rest.replace("-", "")
    if not prefix or len(body) != DATA_LENGTH + 1 or any(c not in SYMBOLS for c in body[:-1]):
        return False
    return _check_symbol(body[:-1]) == body[-1]


def study_key(study: Study) -> bytes:
    key = settings.PSEUDONYM_KEYS.get(study.code)
    if not key:
        raise PseudonymKeyMissing(
            f"Study {study.code} derives pseudonyms from an identifier but PSEUDONYM_KEYS has no key for it."
        )
    return key.encode()


def pseudonym_from_external_id(*, study: Study, external_id: str) -> str:
    """Same identifier, same study → same pseudonym. The identifier is normalised (spaces,
    case) so that "1 85 05 78 006 084 36" and "185057800608436" agree."""
    canonical = "".join(external_id.split()).upper()
    digest = hmac.new(study_key(study), canonical.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big") >> (64 - 5 * DATA_LENGTH)
    symbols = "".join(SYMBOLS[(number >> (5 * i)) & 31] for i in reversed(range(DATA_LENGTH)))
    return _format(study.pseudonym_prefix, symbols)


def _random_candidate(study: Study) -> str:
    return _format(study.pseudonym_prefix, "".join(secrets.choice(SYMBOLS) for _ in range(DATA_LENGTH)))


def pseudonym_new(*, study: Study) -> str:
    """A random pseudonym not yet used in the study (the unique constraint is the final guard)."""
    while True:
        candidate = _random_candidate(study)
        if not Participant.objects.filter(study=study, pseudonym=candidate).exists():
            return candidate


def pseudonym_random(*, study: Study, taken: set[str]) -> str:
    """pseudonym_new for many at once (an import): checked against `taken`, one read of the study's
    pseudonyms, instead of a query per candidate; the new one is added to `taken`."""
    while True:
        candidate = _random_candidate(study)
        if candidate not in taken:
            taken.add(candidate)
            return candidate
