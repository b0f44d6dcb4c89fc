"""Withdrawal pages (patient and investigator) and the audited re-identification page.

Thin views: the decisions live in patients/consent/withdrawal.py and patients/identity/reidentify.py.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from patients.consent.withdrawal import enrollment_withdraw
from patients.identity.reidentify import REASON_MAX, investigator_may_act, participant_reidentify
from patients.models import Enrollment
from surveys.answering import access as link_access
from surveys.answering.access import LinkState, access_assignment_by_token
from surveys.answering.views import link_check_page, patient_language
from surveys.models import Assignment, Participant

PATIENT_LANGUAGES = ("fr", "en")
DATA_CHOICES = (Enrollment.WithdrawalData.KEEP.value, Enrollment.WithdrawalData.DELETE.value)


# --- patient: /s/<token>/withdraw ----------------------------------------------------------------


def _patient_language(request: HttpRequest, assignment: Assignment | None) -> str:
    return patient_language(request, assignment.participant.language if assignment else None, list(PATIENT_LANGUAGES))


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def patient_withdraw(request: HttpRequest, token: str) -> HttpResponse:
    """Leave the study from any message link: whatever state the questionnaire is in
    (not open yet, completed, expired), only an unknown link is refused."""
    access = access_assignment_by_token(token, now=timezone.now())
    language = _patient_language(request, access.assignment)
    with translation.override(language):
        if access.state is LinkState.UNKNOWN:
            return render(
                request, "patient/state.html", {"state": LinkState.UNKNOWN.value, "language": language}, status=404
            )
        assignment = access.assignment
        participant = assignment.participant
        here = request.get_full_path()
        if participant.status == Participant.Status.WITHDRAWN:
            if request.method == "POST":
                # A second tap, the back button, another tab: nothing more to do.
                return HttpResponseRedirect(here)
            return _patient_done(request, participant, language)
        if link_access.link_check_needed(assignment, request.COOKIES):
            # Studies that ask the year of birth before showing a questionnaire ask it here too:
            # whoever holds a forwarded link must not be able to erase someone's answers.
            return link_check_page(request, token, assignment, language, back_to=request.get_full_path())
        context = {
            "language": language,
            "token": token,
            "data": DATA_CHOICES[0],
            "error": "",
            "questionnaire_open": access.state is LinkState.OPEN,
        }
        if request.method == "POST":
            choice = request.POST.get("data", "")
            if choice in DATA_CHOICES:
                enrollment = Enrollment.objects.filter(participant=participant).first()
                if enrollment is None:
                    raise Http404("No enrolment behind this link.")
                enrollment_withdraw(
                    enrollment=enrollment,
                    by_patient=True,
                    delete_data=choice == Enrollment.WithdrawalData.DELETE,
                    now=timezone.now(),
                )
                return HttpResponseRedirect(here)
            context["error"] = _("Choose what should happen to your answers.")
            return render(request, "patient/withdraw.html", context, status=422)
        return render(request, "patient/withdraw.html", context)


def _patient_done(request: HttpRequest, participant: Participant, language: str) -> HttpResponse:
    enrollment = Enrollment.objects.filter(participant=participant).only("withdrawal_data").first()
    deleted = enrollment is not None and enrollment.withdrawal_data == Enrollment.WithdrawalData.DELETE
    return render(request, "patient/withdraw_done.html", {"language": language, "deleted": deleted})


# --- staff: /staff/participants/<id>/... -------------------------------------------------------------


def _participant_for_investigator(request: HttpRequest, pk: int) -> Participant:
    """The participant, if the user is an investigator of its study and site. Others learn
    nothing: 404 unless their role already lets them see the participant (then 403)."""
    participant = get_object_or_404(Participant.objects.select_related("study", "site"), pk=pk)
    if not investigator_may_act(request.user, participant):
        if request.user.has_perm("surveys.view_participant", participant):
            raise PermissionDenied
        raise Http404
    return participant


def _staff_context(request: HttpRequest, participant: Participant, title: str, **extra) -> dict:
    return {
        **admin.site.each_context(request),
        "title": title,
        "participant": participant,
        "participant_url": reverse("admin:surveys_participant_change", args=[participant.pk]),
        **extra,
    }


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def staff_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    participant = _participant_for_investigator(request, pk)
    enrollment = get_object_or_404(Enrollment, participant=participant)
    title = _("Withdraw %(pseudonym)s") % {"pseudonym": participant.pseudonym}
    form = {"data": DATA_CHOICES[0], "reason": "", "confirm_delete": False}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {
            "data": request.POST.get("data", ""),
            "reason": request.POST.get("reason", "").strip(),
            "confirm_delete": request.POST.get("confirm_delete") == "yes",
        }
        if enrollment.withdrawn_at is not None:
            # Already withdrawn: only erasing data kept so far remains possible.
            form["data"] = Enrollment.WithdrawalData.DELETE
        if form["data"] not in DATA_CHOICES:
            errors["data"] = _("Choose whether the data already collected is kept or deleted.")
        elif form["data"] == Enrollment.WithdrawalData.DELETE and not form["confirm_delete"]:
            errors["confirm_delete"] = _("Tick this box to confirm that the answers will be deleted for good.")
        if len(form["reason"]) > REASON_MAX:
            errors["reason"] = _("Keep the reason under %(max)s characters.") % {"max": REASON_MAX}
        if not errors:
            before = enrollment.responses_deleted
            enrollment = enrollment_withdraw(
                enrollment=enrollment,
                by_user=request.user,
                delete_data=form["data"] == Enrollment.WithdrawalData.DELETE,
                now=timezone.now(),
                reason=form["reason"],
            )
            deleted = enrollment.responses_deleted - before
            messages.success(
                request,
                _("%(pseudonym)s is withdrawn: no more questionnaires or messages.")
                % {"pseudonym": participant.pseudonym}
                + " "
                + (
                    ngettext("%(count)s response deleted.", "%(count)s responses deleted.", deleted)
                    % {"count": deleted}
                    if form["data"] == Enrollment.WithdrawalData.DELETE
                    else _("The data already collected is kept.")
                ),
            )
            return HttpResponseRedirect(request.path)
    context = _staff_context(
        request,
        participant,
        title,
        enrollment=enrollment,
        form=form,
        errors=errors,
        reason_max=REASON_MAX,
        responses=participant.assignments.filter(response__isnull=False).count(),
    )
    return render(request, "staff/withdraw.html", context, status=422 if errors else 200)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def staff_reidentify(request: HttpRequest, pk: int) -> HttpResponse:
    """Who is behind a pseudonym: asked with a reason, shown once per request, never by a GET."""
    participant = _participant_for_investigator(request, pk)
    enrollment = get_object_or_404(Enrollment, participant=participant)
    title = _("Who is %(pseudonym)s?") % {"pseudonym": participant.pseudonym}
    context = _staff_context(request, participant, title, reason="", errors={}, reason_max=REASON_MAX)
    if request.method == "POST":
        context["reason"] = request.POST.get("reason", "")
        try:
            patient = participant_reidentify(user=request.user, participant=participant, reason=context["reason"])
        except ValidationError as exc:
            context["errors"] = {field: messages_[0] for field, messages_ in exc.message_dict.items()}
            return render(request, "staff/reidentify.html", context, status=422)
        return render(
            request, "staff/reidentify_identity.html", {**context, "patient": patient, "enrollment": enrollment}
        )
    return render(request, "staff/reidentify.html", context)
