"""The French catalogue: every translation keeps its English placeholders, and the .mo is up to date."""

import re
from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parents[1] / "locale" / "fr" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|\{(\w*)\}")


def placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER.finditer(text)}


def test_each_translation_has_the_placeholders_of_its_msgid():
    wrong = []
    for entry in polib.pofile(str(LOCALE / "django.po")):
        if entry.msgstr and "python-format" in entry.flags and placeholders(entry.msgid) != placeholders(entry.msgstr):
            wrong.append(f"{entry.msgid!r} -> {entry.msgstr!r}")
    assert not wrong, "\n".join(wrong)


def test_no_fuzzy_guess_is_shipped():
    fuzzy = [entry.msgid for entry in polib.pofile(str(LOCALE / "django.po")) if "fuzzy" in entry.flags]
    assert not fuzzy


def test_compiled_catalogue_matches_the_po():
    po = {(e.msgctxt, e.msgid): e.msgstr for e in polib.pofile(str(LOCALE / "django.po"))
          if e.msgstr and not e.msgid_plural and not e.obsolete}
    mo = {(e.msgctxt, e.msgid): e.msgstr for e in polib.mofile(str(LOCALE / "django.mo")) if not e.msgid_plural}
    assert {k: v for k, v in po.items() if mo.get(k) != v} == {}
