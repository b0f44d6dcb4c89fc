"""Patient consent pages: e-consent from a questionnaire link, and consent plus self-enrolment
after pre-screening. Thin views over patients/consent/records.py; the screening state (eligible or not)
comes from surveys/participants/screening.py's signed cookie, the answers themselves never reach here."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from patients.consent.records import consent_problems, consent_record, notice_current
from patients.enrolment import screening_codes
from patients.enrolment.enrol import DUPLICATE_EMAIL, DUPLICATE_PHONE, EnrolmentData, EnrolmentInvalid
from patients.models import Enrollment, Patient
from surveys.answering.access import LinkState
from surveys.answering.links import assignment_link_token
from surveys.answering.views import (  # the questionnaire pages' cookie
    client_ip,
    link_access_of,
    patient_language,
    remember_language,
)
from surveys.models import Assignment, ConsentNotice, Study
from surveys.participants import screening
from surveys.participants.screening_views import too_many_page

Method = Enrollment.ConsentMethod


def _language(request: HttpRequest, preferred: str | None, study: Study) -> str:
    return patient_language(request, preferred, list(study.languages), study.fallback_language)


def _lang_redirect(url: str, language: str) -> HttpResponse:
    redirect = HttpResponseRedirect(url)
    remember_language(redirect, language)
    return redirect


def _posted_notice(request: HttpRequest, study: Study) -> ConsentNotice | None:
    """The notice the patient had on screen (a hidden field): the one they consent to."""
    try:
        return ConsentNotice.objects.filter(study=study, pk=int(request.POST.get("notice", ""))).first()
    except ValueError:
        return None


def _consent_form(request: HttpRequest, study: Study, notice: ConsentNotice) -> tuple[str, str, dict[str, str]]:
    """(method, typed name, problems) from a POST of the consent form."""
    non_opposition = study.legal_basis == Study.LegalBasis.NON_OPPOSITION
    method = Method.NON_OPPOSITION if non_opposition else Method.ELECTRONIC
    typed_name = request.POST.get("typed_name", "")
    problems = consent_problems(
        study=study, method=method, agreed=request.POST.get("agree") == "yes", typed_name=typed_name
    )
    return method, typed_name, problems


def _render_consent(
    request: HttpRequest,
    *,
    study: Study,
    notice: ConsentNotice | None,
    language: str,
    token: str,
    screening_step: bool,
    problems: dict[str, str] | None = None,
    typed_name: str = "",
    agreed: bool = False,
) -> HttpResponse:
    problems = problems or {}
    context = {
        "study": study,
        "notice": notice,
        "language": language,
        "token": token,
        "screening_step": screening_step,
        "non_opposition": study.legal_basis == Study.LegalBasis.NON_OPPOSITION,
        "problems": problems,
        "typed_name": typed_name,
        "agreed": agreed,
        "title": notice.title if notice else study.title,
    }
    status = 422 if problems else (200 if notice else 503)
    return render(request, "patient/consent.html", context, status=status)


# --- e-consent from a questionnaire link ---------------------------------------------------------------


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    # The year-of-birth check (studies that ask it) came first, in surveys.answering.views.LinkCheckGuard.
    access = link_access_of(request, token)
    questionnaire = reverse("surveys:respond", args=[token])
    if access.state is not LinkState.NEEDS_CONSENT:
        # Consent already recorded (a second POST, a second tab), or a link that is closed:
        # the questionnaire page says what applies, and nothing changes here.
        return HttpResponseRedirect(questionnaire)
    participant = access.assignment.participant
    study = participant.study
    language = _language(request, participant.language, study)
    if "lang" in request.GET:
        return _lang_redirect(reverse("patients:consent", args=[token]), language)
    enrollment = Enrollment.objects.filter(participant=participant).first()
    with translation.override(language):
        if enrollment is None:
            return render(request, "patient/state.html", {"state": "unknown", "language": language}, status=404)
        if request.method == "POST":
            posted = _consent_posted(
                request, study, language, token, screening_step=False, back=reverse("patients:consent", args=[token])
            )
            if isinstance(posted, HttpResponse):
                return posted
            notice, method, typed_name = posted
            consent_record(enrollment=enrollment, notice=notice, method=method, typed_name=typed_name, by=None, now=now)
            return HttpResponseRedirect(questionnaire)
        return _render_consent(
            request,
            study=study,
            notice=notice_current(study=study, language=language),
            language=language,
            token=token,
            screening_step=False,
        )


# --- after pre-screening: consent, self-enrolment, first link ---------------------------------------------


def _consent_posted(
    request: HttpRequest, study: Study, language: str, token: str, *, screening_step: bool, back: str
) -> HttpResponse | tuple[ConsentNotice, str, str]:
    """A posted consent form, the same on a questionnaire link and on the pre-screening link:
    (notice, method, typed name) when it is complete, else the page to answer with (the form
    again with its problems, or back to the page when the notice is unknown)."""
    notice = _posted_notice(request, study)
    if notice is None:
        return HttpResponseRedirect(back)
    method, typed_name, problems = _consent_form(request, study, notice)
    if problems:
        return _render_consent(
            request,
            study=study,
            notice=notice,
            language=language,
            token=token,
            screening_step=screening_step,
            problems=problems,
            typed_name=typed_name,
            agreed=request.POST.get("agree") == "yes",
        )
    return notice, method, typed_name


def _screening_url(token: str) -> str:
    return reverse("surveys:screening", args=[token])


def _eligible_study(request: HttpRequest, token: str) -> tuple[Study | None, dict]:
    study = screening.study_by_screening_token(token)
    if study is None:
        return None, {}
    return study, screening.state_load(cookies=request.COOKIES, study=study)


def _step_open(request: HttpRequest, token: str) -> tuple[Study, dict] | HttpResponse:
    """The study and state of an eligible visitor on their way to enrolment, or where they belong instead."""
    study, state = _eligible_study(request, token)
    if study is None or not state.get("ok"):
        # Not (or no longer) known to be eligible: the questionnaire starts again.
        return HttpResponseRedirect(_screening_url(token))
    if state.get("done"):
        return HttpResponseRedirect(reverse("patients:screening_done", args=[token]))
    return study, state


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def screening_consent(request: HttpRequest, token: str) -> HttpResponse:
    step = _step_open(request, token)
    if isinstance(step, HttpResponse):
        return step
    study, state = step
    language = _language(request, None, study)
    here = reverse("patients:screening_consent", args=[token])
    if "lang" in request.GET:
        return _lang_redirect(here, language)
    with translation.override(language):
        if request.method == "POST":
            posted = _consent_posted(request, study, language, token, screening_step=True, back=here)
            if isinstance(posted, HttpResponse):
                return posted
            notice, method, typed_name = posted
            # Kept on the patient's own browser until the enrolment form is sent: nothing is stored
            # for someone who stops here.
            given = {"n": notice.pk, "m": method, "name": " ".join(typed_name.split())}
            return screening.state_save(
                HttpResponseRedirect(reverse("patients:screening_enrol", args=[token])),
                request,
                study,
                token,
                {**state, "consent": given},
            )
        return _render_consent(
            request,
            study=study,
            notice=notice_current(study=study, language=language),
            language=language,
            token=token,
            screening_step=True,
            typed_name=state.get("consent", {}).get("name", ""),
            agreed=bool(state.get("consent")),
        )


ENROL_FIELDS = ("name", "phone", "email", "preferred_channel", "language", "birth_date")


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def screening_enrol(request: HttpRequest, token: str) -> HttpResponse:
    step = _step_open(request, token)
    if isinstance(step, HttpResponse):
        return step
    study, state = step
    given = state.get("consent") or {}
    notice = ConsentNotice.objects.filter(study=study, pk=given.get("n")).first() if given else None
    if notice is None:
        return HttpResponseRedirect(reverse("patients:screening_consent", args=[token]))
    language = _language(request, None, study)
    here = reverse("patients:screening_enrol", args=[token])
    if "lang" in request.GET:
        return _lang_redirect(here, language)
    values = {
        "name": given.get("name", ""),
        "phone": "",
        "email": "",
        "preferred_channel": Patient.Channel.SMS,
        "language": language,
        "birth_date": "",
    }
    problems: dict[str, str] = {}
    with translation.override(language):
        if request.method == "POST":
            values = {key: request.POST.get(key, "").strip() for key in ENROL_FIELDS}
            data = EnrolmentData(
                name=values["name"],
                phone=values["phone"],
                email=values["email"],
                preferred_channel=values["preferred_channel"],
                language=values["language"],
                birth_date=values["birth_date"],
                time_zone=study.time_zone,
            )
            # Nothing is stored yet: the details wait in the cache until the code sent to the
            # phone or address is typed back (patients/enrolment/screening_codes.py).
            try:
                pending = screening_codes.pending_enrolment_start(
                    study=study,
                    data=data,
                    notice=notice,
                    method=given["m"],
                    typed_name=given.get("name", ""),
                    ip=client_ip(request),
                )
            except EnrolmentInvalid as invalid:
                problems = _without_enumeration(invalid.problems)
            except screening_codes.CodeNotSent as not_sent:
                problems = not_sent.problems
            except screening_codes.CodeSendRefused:
                return too_many_page(request, language=language)
            else:
                screening_codes.pending_enrolment_drop(state.get("pending", ""))
                return screening.state_save(
                    HttpResponseRedirect(reverse("patients:screening_confirm", args=[token])),
                    request,
                    study,
                    token,
                    {**state, "pending": pending},
                )
        return render(
            request,
            "patient/screening_enrol.html",
            {
                "study": study,
                "language": language,
                "title": study.title,
                "values": values,
                "problems": problems,
                "fields": ENROL_FIELDS,
                "languages": [(code, name) for code, name in settings.LANGUAGES if code in study.languages],
                "ask_birth_date": study.link_check == Study.LinkCheck.BIRTH_YEAR,
            },
            status=422 if problems else 200,
        )


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def screening_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The one-time code sent by the enrolment form: only the right one enrols."""
    step = _step_open(request, token)
    if isinstance(step, HttpResponse):
        return step
    study, state = step
    enrol = reverse("patients:screening_enrol", args=[token])
    pending = state.get("pending", "")
    if not pending:
        return HttpResponseRedirect(enrol)
    language = _language(request, None, study)
    here = reverse("patients:screening_confirm", args=[token])
    if "lang" in request.GET:
        return _lang_redirect(here, language)
    without_pending = {key: value for key, value in state.items() if key != "pending"}
    context = {
        "study": study,
        "language": language,
        "title": study.title,
        "enrol": enrol,
        "error": "",
        "attempts_left": 0,
        "hint": screening_codes.pending_enrolment_hint(study=study, pending_id=pending),
        "minutes": screening_codes.code_minutes(),
    }
    with translation.override(language):
        if context["hint"] is None:
            context["error"] = "expired"
            return screening.state_save(
                render(request, "patient/screening_code.html", context, status=410),
                request,
                study,
                token,
                without_pending,
            )
        if request.method == "POST":
            now = timezone.now()
            result = screening_codes.pending_enrolment_confirm(
                study=study, pending_id=pending, code=request.POST.get("code", ""), now=now
            )
            outcome = result.outcome
            if outcome is screening_codes.Outcome.CONFIRMED:
                link = _first_link(result.enrollment, now=now)
                # The link goes to the patient's browser only, as it would in a message.
                return screening.state_save(
                    HttpResponseRedirect(reverse("patients:screening_done", args=[token])),
                    request,
                    study,
                    token,
                    {"done": 1, "link": link},
                )
            if outcome is screening_codes.Outcome.INVALID:
                # Someone enrolled these details meanwhile: the form says so, without confirming who.
                return screening.state_save(HttpResponseRedirect(enrol), request, study, token, without_pending)
            context["error"] = outcome.value
            if outcome is screening_codes.Outcome.WRONG:
                context["attempts_left"] = result.attempts_left
                return render(request, "patient/screening_code.html", context, status=422)
            return screening.state_save(
                render(request, "patient/screening_code.html", context, status=410),
                request,
                study,
                token,
                without_pending,
            )
        return render(request, "patient/screening_code.html", context)


def _first_link(enrollment: Enrollment, *, now) -> str:
    """A link to the first questionnaire if it is open now; empty when it opens later (a message will say)."""
    first = (
        Assignment.objects.filter(
            participant=enrollment.participant, status__in=[Assignment.Status.PLANNED, Assignment.Status.OPEN]
        )
        .order_by("due_at", "pk")
        .first()
    )
    if first is None or not (first.due_at <= now < first.expires_at):
        return ""
    return assignment_link_token(assignment=first)


@never_cache
@require_GET
def screening_done(request: HttpRequest, token: str) -> HttpResponse:
    study, state = _eligible_study(request, token)
    if study is None or not state.get("done"):
        return HttpResponseRedirect(_screening_url(token))
    language = _language(request, None, study)
    link = state.get("link") or ""
    with translation.override(language):
        return render(
            request,
            "patient/screening_done.html",
            {
                "study": study,
                "language": language,
                "title": study.title,
                "link": reverse("surveys:respond", args=[link]) if link else "",
            },
        )


def _without_enumeration(problems: dict[str, str]) -> dict[str, str]:
    """On the public form, "this number is already enrolled" would tell anyone holding the
    link who takes part: say instead what to do, without confirming anything."""
    vague = _(
        "We cannot register these details. If you already take part, use the link in your messages; "
        "otherwise ask the practice."
    )
    return {
        field: vague if message in (str(DUPLICATE_PHONE), str(DUPLICATE_EMAIL)) else message
        for field, message in problems.items()
    }
