"""The public questionnaire files' round trip as a table: file, questions, conditions, kept or refused and why.

Walks every file tests/surveys/interop/test_round_trip.py walks (tests/data/public/** and the shared fixtures),
with that test's own steps, on a throw-away SQLite test database:

* questions: the questions a patient may be asked (calculated, read-only and hidden items left out), summed
  over the questionnaires a file holds; for a refused FHIR file, the file's items that are neither groups nor
  displays;
* conditions: enableWhen entries (for a REDCap file, those its branching logic became);
* kept: imported and published, then the round trip (FHIR Questionnaire export and import, answers, FHIR
  QuestionnaireResponse export and import, REDCap dictionary export and import) passed; what follows says what
  the test's tables list as lost on the way (responses the import refuses, a REDCap export the REDCap import
  refuses, never-asked items a REDCap export turns into questions);
* refused: the import's problems, the first ones and how many.

    .venv/bin/python bench/public_round_trip.py            (RESSENTI_PUBLIC_FIXTURES: the shared fixtures)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def _file_counts(name: str, path: Path) -> tuple[int, int]:
    """(questions, conditions) read from a FHIR file as written."""
    from surveys.questionnaires import fhir

    if not name.endswith(".json"):
        return 0, 0
    nodes = list(fhir.iter_items(json.loads(path.read_text(encoding="utf-8")).get("item", [])))
    return (
        sum(1 for n in nodes if n.get("type") not in ("group", "display")),
        sum(len(n.get("enableWhen") or []) for n in nodes),
    )


def _known_losses(name: str) -> str:
    """What the round trip's tables say this file loses on the way (empty: nothing)."""
    from tests.surveys.interop import test_round_trip as walk

    notes = []
    if name in walk.RESPONSE_REFUSALS:
        notes.append(
            f"responses: the import refuses our export ({len(walk.RESPONSE_REFUSALS[name])} answers: number_Ndp ending in 0, date-time)"
        )
    redcap = _redcap_note(name)
    return "; ".join(filter(None, [*notes, redcap]))


def _redcap_note(name: str) -> str:
    from tests.surveys.interop import test_round_trip as walk

    if name in walk.REDCAP_REFUSALS:
        return f"REDCap: the import refuses our export (choice codes of {len(walk.REDCAP_REFUSALS[name])} fields)"
    if name in walk.REDCAP_ASKED_AGAIN:
        return f"REDCap: {len(walk.REDCAP_ASKED_AGAIN[name])} never-asked items come back as questions"
    return ""


def _walk(name: str) -> dict:
    from django.db import transaction

    from surveys.interop.imports import questionnaire_import
    from surveys.questionnaires.publish import questionnaire_publish
    from tests import factories
    from tests.surveys.interop import test_round_trip as walk

    row: dict = {"file": name, "questionnaires": 0, "questions": 0, "conditions": 0, "kept": "", "refused": ""}
    with transaction.atomic():
        study = factories.study(code="rt-bench", languages=["en"], fallback_language="en")
        result = walk.parse(study, name)
        if not result.ok:
            row["questions"], row["conditions"] = _file_counts(name, walk.FILES[name])
            shown = "; ".join(f"{p.where}: {p.message}" for p in result.problems[:2])
            more = len(result.problems) - 2
            row["refused"] = shown + (f" (+{more} more)" if more > 0 else "")
        else:
            created = questionnaire_import(study=study, result=result, format_=walk.file_format(name), by=None)
            versions = [questionnaire_publish(questionnaire=q, by=None) for q in created]
            row["questionnaires"] = len(versions)
            row["questions"] = sum(len(walk.questions(v.definition)) for v in versions)
            row["conditions"] = sum(walk.condition_count(v.definition) for v in versions)
        transaction.set_rollback(True)
    if result.ok:
        try:
            with transaction.atomic():
                walk.test_a_file_goes_round_through_fhir_and_redcap_unchanged(factories, name)
                transaction.set_rollback(True)
            row["kept"] = " ".join(filter(None, ["yes, round trip passed;", _known_losses(name)])).rstrip(";")
        except AssertionError as failed:
            row["kept"] = "imported; round trip FAILED: " + str(failed).splitlines()[0][:200]
    return row


def main() -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment
    from django.utils import translation

    from tests.surveys.interop import test_round_trip as walk

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        # The test's tables quote the English messages.
        with translation.override("en"):
            rows = [_walk(name) for name in sorted(walk.FILES)]
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()

    print("| file | questionnaires | questions | conditions | kept | refused (import) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        refused = r["refused"].replace("|", "/")
        print(
            f"| {r['file']} | {r['questionnaires']} | {r['questions']} | {r['conditions']} | {r['kept']} | {refused} |"
        )
    kept = [r for r in rows if not r["refused"]]
    print()
    print(
        f"files: {len(rows)} ({len(kept)} imported, {len(rows) - len(kept)} refused); "
        f"questions: {sum(r['questions'] for r in rows)} ({sum(r['questions'] for r in kept)} in imported files); "
        f"conditions: {sum(r['conditions'] for r in rows)} ({sum(r['conditions'] for r in kept)} in imported files); "
        f"round trips passed: {sum(1 for r in kept if r['kept'].startswith('yes'))} of {len(kept)}, "
        f"{sum(1 for r in kept if ';' in r['kept'])} of them with losses the test's tables list"
    )


if __name__ == "__main__":
    main()
