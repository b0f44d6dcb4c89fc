"""Who may open a patient link, and what they see: the one place for link rules."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from .models import Assignment, Participant, Response
from .services import token_hash


class LinkState(enum.Enum):
    OPEN = "open"
    UNKNOWN = "unknown"
    NOT_YET_OPEN = "not_yet_open"
    EXPIRED = "expired"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class LinkAccess:
    state: LinkState
    assignment: Assignment | None = None

    @property
    def language(self) -> str | None:
        return self.assignment.participant.language if self.assignment else None


def access_assignment_by_token(token: str, *, now: datetime) -> LinkAccess:
    """Resolve a link token. Times decide, not only status, so a link closes on
    time even if the beat task that flips statuses is late."""
    if not token or len(token) > 64:
        return LinkAccess(LinkState.UNKNOWN)
    assignment = (
        # One query for everything a page needs, whatever the questionnaire's size.
        Assignment.objects.select_related("participant", "timepoint__version", "response__version")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if assignment is None:
        return LinkAccess(LinkState.UNKNOWN)
    if assignment.status == Assignment.Status.COMPLETED:
        state = LinkState.COMPLETED
    elif assignment.participant.status == Participant.Status.WITHDRAWN:
        state = LinkState.WITHDRAWN
    elif assignment.status == Assignment.Status.CANCELLED:
        state = LinkState.CANCELLED
    elif assignment.status == Assignment.Status.EXPIRED or now >= assignment.expires_at:
        state = LinkState.EXPIRED
    elif now < assignment.due_at:
        state = LinkState.NOT_YET_OPEN
    else:
        state = LinkState.OPEN
    return LinkAccess(state, assignment)


def response_of(assignment: Assignment) -> Response | None:
    try:
        return assignment.response
    except Response.DoesNotExist:
        return None
