"""The French catalogue, locale/fr/LC_MESSAGES/django.po, is the one source of French.

Checked here, on the .po itself: a correct header, every entry translated (both plural forms),
nothing fuzzy or obsolete, each translation keeps the placeholders of its msgid, the compiled .mo
is up to date, and the .po holds exactly the strings the code marks for translation.
"""

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import django
import polib
import pytest

from tests.paths import ROOT

LOCALE = ROOT / "locale" / "fr" / "LC_MESSAGES"
PO_PATH = LOCALE / "django.po"
MO_PATH = LOCALE / "django.mo"

# The same excludes as the Makefile's `messages` target.
MAKEMESSAGES_IGNORE = [".venv/*", "node_modules/*", "bench/*", "tests/*"]
# Never copied for the extraction test: not scanned anyway, or not source.
NOT_COPIED = (
    ".venv",
    "node_modules",
    ".git",
    "bench",
    "tests",
    "var",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "test-artifacts",
    "*.mo",
    "*.pyc",
)

# %(name)s, %s, %d ... (python-format) and {name}, {} (str.format).
PERCENT = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]")
BRACE = re.compile(r"(?<!\{)\{\w*\}(?!\})")


@pytest.fixture(scope="module")
def po():
    return polib.pofile(str(PO_PATH))


def active(po):
    return [e for e in po if not e.obsolete]


def label(entry):
    return repr(entry.msgid)[:120]


def pairs(entry):
    """(source, translation) pairs: the msgid and its msgstr, or each plural form with its source."""
    if entry.msgid_plural:
        return [(entry.msgid, entry.msgstr_plural.get(0, "")), (entry.msgid_plural, entry.msgstr_plural.get(1, ""))]
    return [(entry.msgid, entry.msgstr)]


def placeholders(text, python_format):
    found = Counter(BRACE.findall(text))
    if python_format:
        found.update(PERCENT.findall(text.replace("%%", "")))
    return found


def test_header_is_french_utf8_with_french_plurals(po):
    assert po.metadata.get("Language") == "fr"
    assert po.metadata.get("Plural-Forms") == "nplurals=2; plural=(n > 1);"
    assert "charset=UTF-8" in po.metadata.get("Content-Type", "")
    assert not po.metadata_is_fuzzy, "the header is marked fuzzy"


def test_every_entry_is_translated(po):
    untranslated = []
    for entry in active(po):
        if entry.msgid_plural:
            forms = entry.msgstr_plural
            if sorted(forms) != [0, 1] or not all(forms.values()):
                untranslated.append(label(entry) + " (plural forms)")
        elif not entry.msgstr:
            untranslated.append(label(entry))
    assert not untranslated, "untranslated:\n" + "\n".join(untranslated)


def test_no_fuzzy_guess_is_shipped(po):
    fuzzy = [label(e) for e in active(po) if "fuzzy" in e.flags]
    assert not fuzzy, "fuzzy (review the translation, then remove the fuzzy flag):\n" + "\n".join(fuzzy)


def test_no_obsolete_entry_is_kept(po):
    obsolete = [label(e) for e in po.obsolete_entries()]
    assert not obsolete, "obsolete #~ entries (run `make messages`, which drops them):\n" + "\n".join(obsolete)


def test_each_translation_has_the_placeholders_of_its_msgid(po):
    wrong = []
    for entry in active(po):
        python_format = "python-format" in entry.flags
        for source, translation in pairs(entry):
            if translation and placeholders(source, python_format) != placeholders(translation, python_format):
                wrong.append(f"{source!r} -> {translation!r}")
    assert not wrong, "\n".join(wrong)


def test_each_python_format_translation_can_be_formatted(po):
    """A stray % in French ("50 %") breaks `_(...) % values` at run time: format each one as the code would."""
    broken = []
    for entry in active(po):
        if "python-format" not in entry.flags:
            continue
        for source, translation in pairs(entry):
            names = re.findall(r"%\((\w+)\)", source.replace("%%", ""))
            values = dict.fromkeys(names, 1) if names else (1,) * len(PERCENT.findall(source.replace("%%", "")))
            try:
                translation % values
            except (KeyError, TypeError, ValueError) as error:
                broken.append(f"{translation!r}: {error}")
    assert not broken, "\n".join(broken)


def catalogue(entries):
    """(msgctxt, msgid) -> translation(s), as gettext looks them up."""
    result = {}
    for entry in entries:
        if not entry.msgid or entry.obsolete or "fuzzy" in entry.flags:
            continue
        if entry.msgid_plural:
            forms = {int(k): v for k, v in entry.msgstr_plural.items()}
            if all(forms.values()):
                result[(entry.msgctxt, entry.msgid, entry.msgid_plural)] = tuple(sorted(forms.items()))
        elif entry.msgstr:
            result[(entry.msgctxt, entry.msgid, None)] = entry.msgstr
    return result


def test_compiled_catalogue_matches_the_po(po):
    mo = polib.mofile(str(MO_PATH))
    expected, compiled = catalogue(po), catalogue(mo)
    stale = {k: v for k, v in expected.items() if compiled.get(k) != v}
    extra = sorted(set(compiled) - set(expected), key=str)
    hint = "django.mo is out of date: run `make messages` (or compilemessages -l fr)"
    assert not stale, f"{hint}\n" + "\n".join(repr(k[1])[:120] for k in stale)
    assert not extra, f"{hint}\n" + "\n".join(repr(k[1])[:120] for k in extra)
    for field in ("Language", "Plural-Forms", "Content-Type"):
        assert mo.metadata.get(field) == po.metadata.get(field), f"{hint} ({field} differs)"


def test_the_po_holds_exactly_the_strings_of_the_code(po, tmp_path):
    """Run makemessages (as `make messages` does) on a copy of the tree and compare its msgids with the .po.

    The copy keeps the working tree untouched (makemessages writes next to the templates and merges the
    .po); a minimal settings module is enough, as makemessages does not import the project's apps.
    Takes about a second.
    """
    if not (shutil.which("xgettext") and shutil.which("msgmerge")):
        pytest.skip("GNU gettext is not installed (apt-get install -y gettext): cannot extract the strings")
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*NOT_COPIED))
    (copy / "_i18n_settings.py").write_text(
        "from pathlib import Path\n"
        "SECRET_KEY = 'makemessages-only'\n"
        "USE_I18N = True\n"
        "LOCALE_PATHS = [Path(__file__).resolve().parent / 'locale']\n"
    )
    command = [sys.executable, "-m", "django", "makemessages", "-l", "fr", "--keep-pot"]
    for pattern in MAKEMESSAGES_IGNORE:
        command += ["-i", pattern]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "_i18n_settings", "PYTHONPATH": str(copy)}
    run = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr

    def keys(entries):
        return {(e.msgctxt, e.msgid, e.msgid_plural or None) for e in entries if e.msgid and not e.obsolete}

    in_code = keys(polib.pofile(str(copy / "locale" / "django.pot")))
    in_po = keys(po)
    missing = sorted(in_code - in_po, key=str)
    gone = sorted(in_po - in_code, key=str)
    assert not missing, (
        "strings in the code without an entry in django.po (run `make messages`, then "
        "translate them):\n" + "\n".join(repr(k[1])[:120] for k in missing)
    )
    assert not gone, (
        "entries of django.po no longer in the code (run `make messages`, which drops "
        "them):\n" + "\n".join(repr(k[1])[:120] for k in gone)
    )


DJANGO_CATALOGUES = [
    Path(django.__file__).parent / "contrib" / app / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    for app in ("admin", "auth", "contenttypes")
]


def test_the_catalogue_never_changes_what_djangos_own_catalogues_say(po):
    """A msgid of ours that Django's admin also uses replaces Django's French everywhere in the admin
    ("Change" once read "Changement" on every change link): such an entry must say what Django says,
    or carry a context (msgctxt) of its own."""
    theirs: dict[str, str] = {}
    for path in DJANGO_CATALOGUES:
        for entry in polib.pofile(str(path)):
            if not entry.msgctxt and entry.msgstr:
                theirs.setdefault(entry.msgid, entry.msgstr)
    differing = [
        f"{e.msgid!r}: ours {e.msgstr!r}, Django's {theirs[e.msgid]!r}"
        for e in active(po)
        if not e.msgctxt and e.msgid in theirs and e.msgstr and e.msgstr != theirs[e.msgid]
    ]
    assert not differing, "\n".join(differing)


def test_every_field_the_staff_see_has_a_french_label(po):
    """Admin forms, lists and filters print field labels: each one is marked for translation and translated."""
    from django.apps import apps
    from django.utils.functional import Promise

    translated = {e.msgid for e in active(po) if e.msgstr}
    missing = []
    for app in ("surveys", "patients"):
        for model in apps.get_app_config(app).get_models():
            if model.__name__.startswith("Historical"):
                continue
            for field in model._meta.get_fields():
                if not getattr(field, "concrete", False) or field.auto_created or not field.editable:
                    continue
                name = f"{model.__name__}.{field.name}"
                if not isinstance(field.verbose_name, Promise):
                    missing.append(f"{name}: no verbose_name marked for translation")
                elif str(field.verbose_name._args[0]) not in translated:
                    missing.append(f"{name}: {field.verbose_name._args[0]!r} has no French")
    assert not missing, "\n".join(missing)


# Sent by SMS: GSM-7 has no no-break space, so these keep plain spaces (patients/messaging/sms/gsm.py).
SMS_MSGIDS = ("your code is",)
# French puts a no-break space before : and a narrow one before ; ? ! (and inside « »), so that a line never
# starts with the sign.
PLAIN_SPACE_BEFORE_SIGN = re.compile(r"(?:\s(?<![\u00a0\u202f])|(?<=[\w)\]%»]))[:;?!](?=\s|$)|«(?=[^\u00a0\u202f])")


def test_french_punctuation_keeps_its_no_break_spaces(po):
    wrong = [
        f"{label(e)}: {text!r}"
        for e in active(po)
        if not any(sms in e.msgid for sms in SMS_MSGIDS)
        for text in [e.msgstr, *e.msgstr_plural.values()]
        if text and PLAIN_SPACE_BEFORE_SIGN.search(text)
    ]
    assert not wrong, "\n".join(wrong[:40])
