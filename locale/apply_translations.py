"""Fill locale/fr/LC_MESSAGES/django.po from locale/fr_*.py (dicts FR and FR_PLURAL) and list what is missing."""

import importlib
import sys
from pathlib import Path

import polib

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
FR: dict[str, str] = {}
FR_PLURAL: dict[str, list[str]] = {}
for module_path in sorted(HERE.glob("fr_*.py")):
    module = importlib.import_module(module_path.stem)
    FR.update(getattr(module, "FR", {}))
    FR_PLURAL.update(getattr(module, "FR_PLURAL", {}))

po = polib.pofile(str(Path(__file__).parent / "fr" / "LC_MESSAGES" / "django.po"))
po.metadata["Language"] = "fr"
po.metadata["Plural-Forms"] = "nplurals=2; plural=(n > 1);"
missing = []
for entry in po:
    if entry.obsolete:  # no longer in the code: kept by makemessages as #~, never compiled
        continue
    if entry.msgid_plural:
        forms = FR_PLURAL.get(entry.msgid)
        if forms:
            entry.msgstr_plural = {0: forms[0], 1: forms[1]}
        else:
            missing.append(entry.msgid)
    elif entry.msgid in FR:
        entry.msgstr = FR[entry.msgid]
    else:
        # The locale/fr_*.py files are the only source: anything else in the .po is
        # makemessages' fuzzy guess from another msgid (often with other placeholders).
        # English shows until a translation is written.
        entry.msgstr = ""
        missing.append(entry.msgid)
    if "fuzzy" in entry.flags:
        entry.flags.remove("fuzzy")
po.save()
print("\n".join(f"missing: {m}" for m in missing) or "all translated")
sys.exit(1 if missing else 0)
