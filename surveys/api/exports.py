"""/api/studies/<code>/exports/: start an export, poll it, download its file.

Thin views over the export job service (surveys/exports/jobs.py), the same one as the staff
export page: one audit row per export (who, when, what, rows, size, SHA-256). Through the API an
export always runs as a background job, whatever its size: POST a spec, poll the job until it is
done, then download. Who: `surveys.export_study` (data managers; investigators when the study
allows it); a member limited to a site exports that site's participants only (the spec's sites
come from the membership, never from the body). A job is its requester's only: another user's,
another study's or an unknown job is a 404, and every call checks the permission again.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response as ApiResponse

from surveys.api.base import ErrorSerializer, JsonBooleanField, StudyScopedMixin, UnknownCode
from surveys.api.serializers import ApiModelSerializer
from surveys.api.views import DetailView, ReadOnlyViewSet
from surveys.exports.access import export_spec_for_user
from surveys.exports.jobs import ExportFileUnavailable, export_job_file, export_job_start
from surveys.exports.spec import DATES, FORMATS, ExportSpecError
from surveys.exports.views import export_file_response
from surveys.models import ExportJob, Questionnaire
from surveys.rules import EXPORT_STUDY

logger = logging.getLogger(__name__)

ACTIVE = (ExportJob.Status.PENDING, ExportJob.Status.RUNNING)


class ExportSerializer(serializers.Serializer):
    """What to export (the choices of the staff export page)."""

    format = serializers.ChoiceField(choices=list(FORMATS), help_text="File format.")
    questionnaires = serializers.ListField(
        child=serializers.RegexField(r"^[-a-zA-Z0-9_]{1,40}$"),
        required=False,
        default=list,
        max_length=100,
        help_text="Questionnaire codes; empty or absent: every questionnaire of the study.",
    )
    labels = JsonBooleanField(required=False, default=False, help_text="Option labels instead of raw codes.")
    language = serializers.ChoiceField(
        choices=[code for code, _name in settings.LANGUAGES],
        required=False,
        allow_null=True,
        default=None,
        help_text="Language of labels; null: the study's fallback language.",
    )
    dates = serializers.ChoiceField(
        choices=list(DATES),
        required=False,
        default="exact",
        help_text="exact, shifted (secret offset per participant) or days_since_enrolment.",
    )
    exclude_free_text = JsonBooleanField(required=False, default=False, help_text="Leave out free-text answers.")
    completed_only = JsonBooleanField(required=False, default=False, help_text="Submitted responses only.")

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({key: [_("Unknown field.")] for key in unknown})
        study = self.context["study"]
        known = set(Questionnaire.objects.filter(study=study, versions__isnull=False).values_list("code", flat=True))
        missing = [code for code in attrs.get("questionnaires", []) if code not in known]
        if missing:
            raise UnknownCode(
                {
                    "questionnaires": [
                        _("No published questionnaire %(code)s in this study.") % {"code": code} for code in missing
                    ]
                }
            )
        return attrs


def job_state(job: ExportJob, *, now) -> str:
    if job.status == ExportJob.Status.EXPIRED or (
        job.status == ExportJob.Status.DONE and job.expires_at is not None and job.expires_at <= now
    ):
        return ExportJob.Status.EXPIRED.value
    return job.status


class ExportJobSerializer(ApiModelSerializer):
    status = serializers.SerializerMethodField(help_text="pending, running, done, failed or expired.")
    spec = serializers.SerializerMethodField(help_text="What is exported, as asked (and the site scope applied).")
    percent = serializers.IntegerField(read_only=True, allow_null=True)
    url = serializers.SerializerMethodField(help_text="This job: poll it.")
    download_url = serializers.SerializerMethodField(help_text="Where to download the file, once done.")

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "url",
            "status",
            "format",
            "spec",
            "created_at",
            "started_at",
            "finished_at",
            "progress_done",
            "progress_total",
            "percent",
            "rows",
            "size_bytes",
            "sha256",
            "filename",
            "expires_at",
            "error",
            "download_url",
        ]

    def _path(self, job: ExportJob, name: str) -> str:
        return self.context["request"].build_absolute_uri(
            reverse(name, kwargs={"study": self.context["study"].code, "id": job.pk})
        )

    def get_status(self, job: ExportJob) -> str:
        return job_state(job, now=self.context["now"])

    def get_spec(self, job: ExportJob) -> dict:
        spec = dict(job.spec)
        spec.pop("schema", None)
        spec.pop("study_id", None)
        return spec

    def get_url(self, job: ExportJob) -> str:
        return self._path(job, "api-export")

    def get_download_url(self, job: ExportJob) -> str | None:
        if self.get_status(job) != ExportJob.Status.DONE:
            return None
        return self._path(job, "api-export-download")


class ExportRows(StudyScopedMixin):
    perm = EXPORT_STUDY
    model = ExportJob
    serializer_class = ExportJobSerializer

    def rows(self):
        # Background exports of this study asked by this user: the page's and the API's.
        return ExportJob.objects.filter(study=self.study, requested_by=self.request.user, mode=ExportJob.Mode.ASYNC)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "study": getattr(self, "study", None), "now": timezone.now()}


@extend_schema_view(
    list=extend_schema(
        summary="Your exports of this study",
        description="Your background exports of this study, oldest first; POST a spec to start one.",
    ),
    retrieve=extend_schema(
        summary="One export: its status and progress",
        description="One of your exports: status (pending, running, done, failed, expired), progress, and once done "
        "its rows,\nsize, SHA-256, expiry and download_url.",
    ),
)
@extend_schema(tags=["exports"])
class ExportViewSet(ExportRows, ReadOnlyViewSet):
    """Your background exports of this study: list them, start one (POST a spec), poll one."""

    filterset_class = None
    # The only API body: parsed behind the upload limits (size, nesting depth).

    @extend_schema(
        summary="Start an export",
        description="Always a background job: poll the answer's url until status is done, then GET download_url.",
        request=ExportSerializer,
        responses={202: ExportJobSerializer, 400: ErrorSerializer},
    )
    def create(self, request, *args, **kwargs):
        body = ExportSerializer(data=request.data, context={"study": self.study})
        body.is_valid(raise_exception=True)
        try:
            spec = export_spec_for_user(user=request.user, study_id=self.study.pk, **body.validated_data).check()
        except ExportSpecError as exc:
            raise exceptions.ValidationError({field: [text] for field, text in exc.problems.items()}) from None
        job = export_job_start(spec=spec, by=request.user)
        data = self.get_serializer(job).data
        return ApiResponse(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})


class LenientNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type


UNAVAILABLE = {
    "not_ready": (409, "not_ready"),
    "failed": (409, "failed"),
    "expired": (410, "expired"),
    "missing": (410, "expired"),
}


@extend_schema(
    summary="Download the file of a finished export",
    tags=["exports"],
    responses={
        (200, "application/octet-stream"): OpenApiResponse(
            OpenApiTypes.BINARY,
            description=("The file; X-Export-SHA256 carries its SHA-256, as recorded in the export's audit row."),
        ),
        409: OpenApiResponse(ErrorSerializer, description="Not finished yet, or failed."),
        410: OpenApiResponse(ErrorSerializer, description="The file expired and was deleted."),
    },
)
class ExportDownload(ExportRows, DetailView):
    """The file of a finished export, as recorded in its audit row (X-Export-SHA256: its SHA-256)."""

    # The file is not rendered by DRF: whatever the client accepts, errors come back as JSON.
    content_negotiation_class = LenientNegotiation

    def retrieve(self, request, *args, **kwargs) -> HttpResponse:
        job = self.get_object()
        now = timezone.now()
        try:
            path = export_job_file(job=job, now=now)
        except ExportFileUnavailable as exc:
            code, error = UNAVAILABLE[exc.reason]
            texts = {
                "not_ready": _("Export %(id)s is not finished: poll it until its status is done."),
                "failed": _("Export %(id)s failed: see its error, and start a new one."),
                "expired": _("The file of export %(id)s has expired: start a new export."),
            }
            return ApiResponse({"status": code, "code": error, "detail": texts[error] % {"id": job.pk}}, status=code)
        return export_file_response(job=job, path=path, by=request.user, now=now)
