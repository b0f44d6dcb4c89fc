"""Published definitions, read once per process.

A published version never changes (QuestionnaireVersion refuses updates and deletes), so its decoded
definition is the same on every request: read on first use and kept, instead of fetching and decoding
the JSON again for every page, save and submit. Callers must not mutate what they get.
"""

from __future__ import annotations

import functools

from surveys.models import QuestionnaireVersion

# Versions in use at once are few (a study's questionnaires × their live versions); this bounds memory.
CACHED_VERSIONS = 256


@functools.lru_cache(maxsize=CACHED_VERSIONS)
def published_definition(version_id: int) -> dict:
    return QuestionnaireVersion.objects.values_list("definition", flat=True).get(pk=version_id)
