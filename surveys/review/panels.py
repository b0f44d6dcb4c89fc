"""Review panels: invitations, the reviewer's rounds, deadline reminders.

Reviewers are non-staff users who know only the e-mail address they gave us; they reach the
rounds of the panels they are active, accepted members of, and nothing else (404 otherwise).
An invitation link is a one-time secret: only its SHA-256 is stored, it expires, and a new
invitation replaces the old one.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from surveys.models import ItemFeedback, Panel, PanelMember, ReviewReminder, ReviewRound, ReviewSubmission

logger = logging.getLogger(__name__)

# How long an invitation link stays valid.
INVITATION_DAYS: int = getattr(settings, "RESSENTI_REVIEW_INVITATION_DAYS", 14)
# Reminders before the deadline, in days; each is sent once per reviewer and round.
REMINDER_DAYS: tuple[int, ...] = (3, 1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(token: str) -> str:
    return f"{settings.SITE_URL}/review/invitation/{token}/"


def round_url(round_id: int) -> str:
    return f"{settings.SITE_URL}/review/rounds/{round_id}/"


def _language(code: str) -> str:
    return code if code in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def _send(*, template: str, to: str, language: str, context: dict) -> None:
    """Render messages/review/<template>_{subject.txt,.txt,.html} in `language` and send them."""
    with translation.override(language):
        context = {**context, "language": language}
        subject = " ".join(render_to_string(f"messages/review/{template}_subject.txt", context).split())
        text = render_to_string(f"messages/review/{template}.txt", context)
        html = render_to_string(f"messages/review/{template}.html", {**context, "subject": subject})
    email = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    email.attach_alternative(html, "text/html")
    email.send()


# --- invitations ------------------------------------------------------------------------------


def reviewer_invite(
    *, panel: Panel, email: str, kind: str, language: str, by, now: datetime | None = None
) -> tuple[PanelMember, str]:
    """Invite `email` to `panel`: create (or reuse) the reviewer account and e-mail a new link.

    Returns the membership and the token (sent, never stored). A staff account cannot be a
    reviewer: reviewer pages and the admin are kept apart.
    """
    now = now or timezone.now()
    email = (email or "").strip()
    if "@" not in email:
        raise ValidationError({"email": _("Enter a valid e-mail address.")})
    if kind not in PanelMember.Kind.values:
        raise ValidationError({"kind": _("Unknown kind of reviewer: %(kind)s.") % {"kind": kind}})
    language = _language(language)
    User = get_user_model()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).order_by("pk").first()
        if user is not None and (user.is_staff or user.is_superuser):
            raise ValidationError({"email": _("This address belongs to a staff account; reviewers need their own.")})
        if user is None:
            # No identity beyond the address the reviewer gave; inactive until they accept.
            user = User(username=email.lower()[:150], email=email, is_active=False, is_staff=False)
            user.set_unusable_password()
            user.save()
        member, _created = PanelMember.objects.get_or_create(panel=panel, user=user)
        member.kind = kind
        member.language = language
        member.invitation_hash = token_hash(token)  # the previous link stops working here
        member.invited_at = now
        member.invited_by = by
        member.active = True
        member.save()
    # Sent once the rows are saved; if sending fails the error shows and "send a new invitation" retries.
    _send(
        template="invitation",
        to=email,
        language=language,
        context={"panel": panel, "url": invitation_url(token), "days": INVITATION_DAYS},
    )
    return member, token


def invitation_member(*, token: str, now: datetime | None = None) -> PanelMember | None:
    """The membership a valid, unused, unexpired invitation token opens; None otherwise."""
    now = now or timezone.now()
    if not token or len(token) > 200:
        return None
    return (
        PanelMember.objects.select_related("panel", "user")
        .filter(invitation_hash=token_hash(token), active=True, invited_at__gt=now - timedelta(days=INVITATION_DAYS))
        .first()
    )


def invitation_accept(*, token: str, password: str, now: datetime | None = None):
    """Set the reviewer's password and accept the invitation; returns the user.

    Raises ValidationError (password rules, or an invalid link) and changes nothing then.
    The token is claimed by a conditional UPDATE, so it works once even if posted twice.
    """
    now = now or timezone.now()
    member = invitation_member(token=token, now=now)
    if member is None:
        raise ValidationError(_("This invitation link is not valid any more."), code="invalid_link")
    user = member.user
    validate_password(password, user)
    with transaction.atomic():
        claimed = PanelMember.objects.filter(pk=member.pk, invitation_hash=token_hash(token)).update(
            invitation_hash="", accepted_at=now
        )
        if claimed != 1:
            raise ValidationError(_("This invitation link is not valid any more."), code="invalid_link")
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
    return user


# --- the reviewer's rounds --------------------------------------------------------------------


def _memberships(user) -> Q:
    return Q(panel__members__user=user, panel__members__active=True, panel__members__accepted_at__isnull=False)


def rounds_for_reviewer(*, user) -> QuerySet[ReviewRound]:
    """Rounds of the panels `user` is an active, accepted member of (nothing for staff or anonymous)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or user.is_staff:
        return ReviewRound.objects.none()
    return ReviewRound.objects.filter(_memberships(user)).distinct().select_related("questionnaire__study", "panel")


def access_round(*, user, round_id: int) -> ReviewRound:
    """The round `round_id` if `user` may review it; Http404 otherwise (no hint whether it exists)."""
    found = rounds_for_reviewer(user=user).filter(pk=round_id).first()
    if found is None:
        raise Http404
    return found


def reviewer_language(*, user) -> str:
    """The language the reviewer chose at invitation (their latest membership's)."""
    member = (
        PanelMember.objects.filter(user=user, active=True)
        .order_by("-invited_at", "-pk")
        .values_list("language", flat=True)
        .first()
    )
    return _language(member or settings.LANGUAGE_CODE)


def questionnaire_title(round_: ReviewRound, language: str) -> str:
    from surveys.answering.rendering import title_of

    q = round_.questionnaire
    own = getattr(q, f"title_{language}", "") or ""
    return own or title_of(round_.definition, language) or q.title_fr or q.title_en or q.code


def deadline_local(round_: ReviewRound) -> datetime:
    """The deadline in the study's time zone (what the designer meant)."""
    return timezone.localtime(round_.deadline, ZoneInfo(round_.questionnaire.study.time_zone))


@dataclass(frozen=True)
class RoundLine:
    round: ReviewRound
    questionnaire_title: str
    deadline: datetime
    commented: int
    submitted_at: datetime | None
    is_open: bool


def reviewer_home(*, user, language: str, now: datetime | None = None) -> tuple[list[RoundLine], list[RoundLine]]:
    """(open rounds, closed rounds) of the reviewer, with their own progress on each."""
    now = now or timezone.now()
    rounds = list(rounds_for_reviewer(user=user).order_by("deadline", "pk"))
    ids = [r.pk for r in rounds]
    commented = dict(
        ItemFeedback.objects.filter(round_id__in=ids, reviewer=user)
        .values("round_id")
        .annotate(n=Count("pk"))
        .values_list("round_id", "n")
    )
    submitted = dict(
        ReviewSubmission.objects.filter(round_id__in=ids, reviewer=user, submitted_at__isnull=False).values_list(
            "round_id", "submitted_at"
        )
    )
    open_, closed = [], []
    for r in rounds:
        is_open = r.closed_at is None and r.deadline > now
        line = RoundLine(
            round=r,
            questionnaire_title=questionnaire_title(r, language),
            deadline=deadline_local(r),
            commented=commented.get(r.pk, 0),
            submitted_at=submitted.get(r.pk),
            is_open=is_open,
        )
        (open_ if is_open else closed).append(line)
    closed.reverse()
    return open_, closed


# --- reminders --------------------------------------------------------------------------------


def _due_reminder(deadline: datetime, now: datetime) -> int | None:
    """Which reminder is due now: the smallest threshold already reached (1 day beats 3 days)."""
    left = deadline - now
    due = [days for days in REMINDER_DAYS if left <= timedelta(days=days)]
    return min(due) if due else None


def reminders_send(*, now: datetime | None = None) -> int:
    """E-mail the reviewers who have not submitted, 3 days and 1 day before the deadline; returns how many.

    Each (round, reviewer, threshold) is claimed by inserting a ReviewReminder row (unique), so a
    second run or a second worker sends nothing twice; a failed send releases its claim.
    """
    now = now or timezone.now()
    horizon = now + timedelta(days=max(REMINDER_DAYS))
    rounds = ReviewRound.objects.filter(closed_at__isnull=True, deadline__gt=now, deadline__lte=horizon).select_related(
        "questionnaire__study", "panel"
    )
    sent = 0
    for round_ in rounds:
        days = _due_reminder(round_.deadline, now)
        if days is None:
            continue
        done = ReviewSubmission.objects.filter(round=round_, submitted_at__isnull=False).values("reviewer_id")
        members = (
            PanelMember.objects.filter(panel=round_.panel, active=True, accepted_at__isnull=False, user__is_active=True)
            .exclude(user_id__in=done)
            .exclude(user__email="")
            .select_related("user")
        )
        for member in members:
            # A reviewer who got the 1-day reminder needs no 3-day one afterwards (and vice versa only once).
            if ReviewReminder.objects.filter(round=round_, reviewer=member.user, days_before__lte=days).exists():
                continue
            try:
                with transaction.atomic():
                    claim = ReviewReminder.objects.create(
                        round=round_, reviewer=member.user, days_before=days, sent_at=now
                    )
            except IntegrityError:
                continue
            try:
                with translation.override(member.language):
                    title = questionnaire_title(round_, member.language)
                _send(
                    template="reminder",
                    to=member.user.email,
                    language=member.language,
                    context={
                        "round": round_,
                        "title": round_.title or title,
                        "questionnaire_title": title,
                        "deadline": deadline_local(round_),
                        "days": days,
                        "url": round_url(round_.pk),
                    },
                )
            except Exception:
                claim.delete()
                logger.exception("review reminder for round %s not sent", round_.pk)
                continue
            sent += 1
    return sent
