"""Research domain: everything here is pseudonymous. Never import `patients`."""

from surveys.models.alerts import Alert, ScoreRecomputation
from surveys.models.api import ApiToken
from surveys.models.consent import ConsentNotice, EligibilityRule
from surveys.models.exports import ExportJob
from surveys.models.participant import Assignment, LinkCheckLock, Participant, Response, ResponseCorrection
from surveys.models.questionnaire import (
    AnswerOption,
    EnableCondition,
    Item,
    Questionnaire,
    QuestionnaireVersion,
    Section,
)
from surveys.models.review import (
    ItemFeedback,
    Panel,
    PanelMember,
    PublishOverride,
    ReviewReminder,
    ReviewRound,
    ReviewSubmission,
)
from surveys.models.schedule import Timepoint
from surveys.models.study import Site, Study, StudyMembership

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
    "LinkCheckLock",
    "ItemFeedback",
    "Panel",
    "PanelMember",
    "Participant",
    "PublishOverride",
    "Questionnaire",
    "QuestionnaireVersion",
    "Response",
    "ResponseCorrection",
    "ReviewReminder",
    "ReviewRound",
    "ReviewSubmission",
    "ScoreRecomputation",
    "Section",
    "Site",
    "Study",
    "StudyMembership",
    "Timepoint",
]
