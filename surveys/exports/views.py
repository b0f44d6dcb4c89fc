"""Staff export pages: /staff/studies/<code>/exports/ and one page per background export.

Thin views over surveys/exports/jobs.py. Who: `surveys.export_study` (surveys/rules.py: data
managers, investigators when the study allows it). Other members of the study get 403, anyone
else "not found". A job's page, status and file are its requester's only (a member limited to a
site must not download what an all-sites member exported), and every request checks the
permission again, so a membership removed since the export was started closes the file too.

The form posts; a small export answers with the file itself, streamed as it is written; a larger
one redirects to its job page, which shows a progress bar that works without JavaScript (the page
reloads itself, and has a reload button) and is polled by static/staff/export-progress.js.
"""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from surveys.exports.access import export_spec_for_user
from surveys.exports.jobs import (
    ExportFileUnavailable,
    export_is_small,
    export_job_file,
    export_job_start,
    export_stream,
)
from surveys.exports.spec import DATES, FORMATS, ExportSpec, ExportSpecError
from surveys.exports.writers import export_media_type
from surveys.models import ExportJob, Questionnaire, Study
from surveys.rules import EXPORT_STUDY
from surveys.staff.pages import study_for_page

logger = logging.getLogger(__name__)

# Reload interval of a job page while it runs (seconds); the script polls faster.
REFRESH_SECONDS = 3
JOBS_SHOWN = 20
AUDIT_SHOWN = 50
ACTIVE = (ExportJob.Status.PENDING, ExportJob.Status.RUNNING)


def access_export_job(request: HttpRequest, code: str, pk: int) -> ExportJob:
    """A background export of the study started by this user (permission checked again); 404 otherwise."""
    study = study_for_page(request, code, EXPORT_STUDY)
    job = ExportJob.objects.filter(pk=pk, study=study, requested_by=request.user, mode=ExportJob.Mode.ASYNC).first()
    if job is None:
        raise Http404(_("No such export among yours."))
    return job


class ExportForm(forms.Form):
    format = forms.ChoiceField(label=gettext_lazy("Format"), choices=list(FORMATS.items()), initial="wide_csv")
    questionnaires = forms.MultipleChoiceField(
        label=gettext_lazy("Questionnaires"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: every questionnaire of the study."),
    )
    labels = forms.TypedChoiceField(
        label=gettext_lazy("Answers as"),
        widget=forms.RadioSelect,
        initial="codes",
        choices=[("codes", gettext_lazy("Raw codes (as in the codebook)")), ("labels", gettext_lazy("Labels"))],
        coerce=lambda value: value == "labels",
    )
    language = forms.ChoiceField(label=gettext_lazy("Language of labels"))
    dates = forms.ChoiceField(
        label=gettext_lazy("Dates"), widget=forms.RadioSelect, choices=list(DATES.items()), initial="exact"
    )
    exclude_free_text = forms.BooleanField(label=gettext_lazy("Leave out free-text answers"), required=False)
    completed_only = forms.BooleanField(label=gettext_lazy("Submitted responses only"), required=False)

    def __init__(self, *args, study: Study, **kwargs):
        super().__init__(*args, **kwargs)
        codes = (
            Questionnaire.objects.filter(study=study, versions__isnull=False)
            .distinct()
            .order_by("code")
            .values_list("code", "title_en", "title_fr")
        )
        # Titles in the language of the page, the other one when it has none.
        french = (translation.get_language() or "").startswith("fr")
        self.fields["questionnaires"].choices = [
            (code, f"{code} — {title}" if (title := (fr or en) if french else (en or fr)) else code)
            for code, en, fr in codes
        ]
        names = dict(settings.LANGUAGES)
        self.fields["language"].choices = [(code, names.get(code, code)) for code in study.languages]
        self.fields["language"].initial = study.fallback_language

    def choices(self) -> dict:
        data = self.cleaned_data
        return {
            "format": data["format"],
            "questionnaires": data["questionnaires"],
            "labels": data["labels"],
            "language": data["language"],
            "dates": data["dates"],
            "exclude_free_text": data["exclude_free_text"],
            "completed_only": data["completed_only"],
        }


def _job_context(job: ExportJob, *, now) -> dict:
    expired = job.status == ExportJob.Status.EXPIRED or (
        job.status == ExportJob.Status.DONE and job.expires_at is not None and job.expires_at <= now
    )
    return {
        "job": job,
        "active": job.status in ACTIVE,
        "expired": expired,
        "downloadable": job.status == ExportJob.Status.DONE and not expired,
        "format_label": FORMATS.get(job.format, job.format),
    }


def _page(request: HttpRequest, study: Study, form: ExportForm, *, status: int = 200) -> HttpResponse:
    now = timezone.now()
    mine = ExportJob.objects.filter(study=study, requested_by=request.user, mode=ExportJob.Mode.ASYNC)[:JOBS_SHOWN]
    audit = ExportJob.objects.filter(study=study).select_related("requested_by")[:AUDIT_SHOWN]
    context = {
        **admin.site.each_context(request),
        "title": _("Export the data of %(study)s") % {"study": study.title},
        "study": study,
        "form": form,
        "inline_max": settings.EXPORTS_INLINE_MAX_RESPONSES,
        "jobs": [_job_context(job, now=now) for job in mine],
        "audit": [_job_context(job, now=now) for job in audit],
    }
    return render(request, "staff/exports.html", context, status=status)


def _streamed(spec: ExportSpec, request: HttpRequest) -> StreamingHttpResponse:
    stream = export_stream(spec=spec, by=request.user)
    response = StreamingHttpResponse(stream, content_type=stream.media_type)
    response["Content-Disposition"] = content_disposition_header(True, stream.filename)
    # The audit row of this download: scripts (and tests) can look its hash up.
    response["X-Export-Id"] = str(stream.job.pk)
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def exports_page(request: HttpRequest, code: str) -> HttpResponse:
    study = study_for_page(request, code, EXPORT_STUDY)
    if request.method != "POST":
        return _page(request, study, ExportForm(study=study))
    form = ExportForm(request.POST, study=study)
    if not form.is_valid():
        return _page(request, study, form, status=400)
    try:
        spec = export_spec_for_user(user=request.user, study_id=study.pk, **form.choices()).check()
        if export_is_small(spec=spec) and "background" not in request.POST:
            return _streamed(spec, request)
        job = export_job_start(spec=spec, by=request.user)
    except ExportSpecError as exc:  # e.g. a questionnaire code the study does not have (any more)
        for field, text in exc.problems.items():
            form.add_error(field if field in form.fields else None, text)
        return _page(request, study, form, status=400)
    return HttpResponseRedirect(reverse("surveys:export_job", args=[study.code, job.pk]))


@never_cache
@login_required
@require_GET
def export_job_page(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    job = access_export_job(request, code, pk)
    context = {
        **admin.site.each_context(request),
        "title": _("Export %(id)s of %(study)s") % {"id": job.pk, "study": job.study.title},
        "study": job.study,
        "refresh_seconds": REFRESH_SECONDS,
        **_job_context(job, now=timezone.now()),
    }
    return render(request, "staff/export_job.html", context)


@never_cache
@login_required
@require_GET
def export_job_status(request: HttpRequest, code: str, pk: int) -> JsonResponse:
    job = access_export_job(request, code, pk)
    state = _job_context(job, now=timezone.now())
    return JsonResponse(
        {
            "id": job.pk,
            "status": ExportJob.Status.EXPIRED.value if state["expired"] else job.status,
            "status_label": str(ExportJob.Status(ExportJob.Status.EXPIRED if state["expired"] else job.status).label),
            "progress_done": job.progress_done,
            "progress_total": job.progress_total,
            "percent": job.percent,
            "rows": job.rows,
            "size_bytes": job.size_bytes,
            "sha256": job.sha256 or None,
            "expires_at": job.expires_at.isoformat() if job.expires_at else None,
            "error": job.error or None,
            "download_url": (
                reverse("surveys:export_job_download", args=[code, job.pk]) if state["downloadable"] else None
            ),
        }
    )


UNAVAILABLE_STATUS = {"not_ready": 409, "failed": 409, "expired": 410, "missing": 410}


@never_cache
@login_required
@require_GET
def export_job_download(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    job = access_export_job(request, code, pk)
    now = timezone.now()
    try:
        path = export_job_file(job=job, now=now)
    except ExportFileUnavailable as exc:
        context = {
            **admin.site.each_context(request),
            "title": _("Export %(id)s of %(study)s") % {"id": job.pk, "study": job.study.title},
            "study": job.study,
            "reason": exc.reason,
            **_job_context(job, now=now),
        }
        return render(request, "staff/export_unavailable.html", context, status=UNAVAILABLE_STATUS[exc.reason])
    return export_file_response(job=job, path=path, by=request.user, now=now)


def export_file_response(*, job: ExportJob, path, by, now) -> HttpResponse:
    """The finished file of a job, for the staff page and the API alike; the download is counted."""
    ExportJob.objects.filter(pk=job.pk).update(downloads=F("downloads") + 1, last_downloaded_at=now)
    logger.info("export %s downloaded by user %s", job.pk, by.pk)
    media_type = export_media_type(ExportSpec.from_dict(job.spec))
    if settings.EXPORTS_X_ACCEL_PREFIX:
        # nginx sends the file from its internal location; Django only said who may have it.
        response = HttpResponse(content_type=media_type)
        response["X-Accel-Redirect"] = settings.EXPORTS_X_ACCEL_PREFIX.rstrip("/") + "/" + job.file_path
    else:
        response = FileResponse(path.open("rb"), content_type=media_type)
    response["Content-Disposition"] = content_disposition_header(True, job.filename)
    response["X-Export-Id"] = str(job.pk)
    # The file's SHA-256 as the audit row has it (not a Repr-Digest: gzip in transit would change that).
    response["X-Export-SHA256"] = job.sha256
    return response
