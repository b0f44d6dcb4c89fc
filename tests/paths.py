"""Where the tests find the repository, their own data and the public fixtures written by other projects."""

import os
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
DATA = TESTS / "data"
# Public FHIR questionnaires and REDCap dictionaries (origins in their SOURCES.md), next to the clone
# unless RESSENTI_PUBLIC_FIXTURES points elsewhere.
PUBLIC_FIXTURES = Path(os.environ.get("RESSENTI_PUBLIC_FIXTURES", ROOT.parent / "shared" / "fixtures"))
