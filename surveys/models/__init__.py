"""Research domain: everything here is pseudonymous. Never import `patients`."""

from .alerts import Alert, ScoreRecomputation
from .api import ApiToken
from .consent import ConsentNotice, EligibilityRule
from .exports import ExportJob
from .participant import Assignment, Participant, Response
from .questionnaire import AnswerOption, EnableCondition, Item, Questionnaire, QuestionnaireVersion, Section
from .schedule import Timepoint
from .study import Site, Study, StudyMembership

__all__ = [
    "Alert",
    "AnswerOption",
    "ApiToken",
    "Assignment",
    "ConsentNotice",
    "EligibilityRule",
    "EnableCondition",
    "ExportJob",
    "Item",
    "Participant",
    "Questionnaire",
    "QuestionnaireVersion",
    "Response",
    "ScoreRecomputation",
    "Section",
    "Site",
    "Study",
    "StudyMembership",
    "Timepoint",
]
