"""Writes of the research domain. Views, admin actions and tasks call these."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from .models import Questionnaire, QuestionnaireVersion


@dataclass(frozen=True)
class Problem:
    """One reason a draft cannot be published: where (item code or field) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class PublishError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


def questionnaire_publish(*, questionnaire: Questionnaire, by: AbstractBaseUser | None) -> QuestionnaireVersion:
    """Validate the draft and freeze it into a new version (or return the latest if identical).

    Raises PublishError listing every problem; nothing is written then.
    """
    raise NotImplementedError


def questionnaire_draft_from_version(*, version: QuestionnaireVersion, by: AbstractBaseUser | None) -> Questionnaire:
    """Replace the questionnaire's draft rows with the content of a published version."""
    raise NotImplementedError


def assignment_issue_token(*, assignment) -> str:
    """Give the assignment a new unguessable link token; store only its hash; return the token.

    The patient URL is reverse("surveys:respond", args=[token]) i.e. /s/<token>.
    """
    raise NotImplementedError
