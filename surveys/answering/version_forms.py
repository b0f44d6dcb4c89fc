"""What the patient pages derive from a published version, computed once per process.

A published version never changes, so its languages and its pages in each language are the same on
every request: built on the first request that needs them and kept (with its definition, from
surveys.questionnaires.published), instead of walking the definition again on every page. The cache is
per process and bounded; nothing here may be mutated by its callers.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field

from surveys.answering import rendering
from surveys.questionnaires.fhir import definition_languages
from surveys.questionnaires.published import CACHED_VERSIONS, published_definition


@dataclass
class VersionForm:
    version_id: int
    definition: dict
    languages: list[str]
    _pages: dict[str, list[rendering.PageSpec]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def pages(self, language: str) -> list[rendering.PageSpec]:
        """The version's pages in `language` (rendering.build_pages), built once."""
        pages = self._pages.get(language)
        if pages is None:
            with self._lock:
                pages = self._pages.setdefault(language, rendering.build_pages(self.definition, language))
        return pages


@functools.lru_cache(maxsize=CACHED_VERSIONS)
def version_form(version_id: int) -> VersionForm:
    definition = published_definition(version_id)
    return VersionForm(version_id=version_id, definition=definition, languages=definition_languages(definition))
