"""Research domain: everything here is pseudonymous. Never import `patients`."""

from .alerts import Alert, ScoreRecomputation
from .api import ApiToken
from .consent import ConsentNotice, EligibilityRule
from .exports import ExportJob
from .participant import Assignment, LinkCheckLock, Participant, Response, ResponseCorrection
from .questionnaire import AnswerOption, EnableCondition, Item, Questionnaire, QuestionnaireVersion, Section
from .review import ItemFeedback, Panel, PanelMember, PublishOverride, ReviewReminder, ReviewRound, ReviewSubmission
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
