"""API views: thin reads over the research models, each scoped by study, role and site.

Lists are paginated by cursor and filtered with django-filter (surveys/api/base.py); details are
found inside the rows the requester reaches, so another study's or another site's object is a 404.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, generics, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response as ApiResponse

from surveys.api.base import (
    ApiSchema,
    NoQueryMixin,
    StudyFilterSet,
    StudyScopedMixin,
    access_api_study,
    date_range,
    reject_query_params,
)
from surveys.api.policies import ApiPagination, StrictFilterBackend
from surveys.api.serializers import (
    AssignmentSerializer,
    ParticipantSerializer,
    ResponseSerializer,
    ScoreRowSerializer,
    StudySerializer,
    VersionDetailSerializer,
    VersionSerializer,
)
from surveys.api.tokens import api_token_study_ids
from surveys.interop.fhir.questionnaire_export import questionnaire_export
from surveys.interop.fhir.response_export import response_export
from surveys.models import Assignment, Participant, QuestionnaireVersion, Response, Site, Study, Timepoint
from surveys.rules import ANY_ROLE
from surveys.staff.selectors import rows_for_user, studies_for_user

VIEW_VERSIONS = "surveys.view_questionnaireversion"
VIEW_PARTICIPANTS = "surveys.view_participant"
VIEW_ASSIGNMENTS = "surveys.view_assignment"
VIEW_RESPONSES = "surveys.view_response"


class FhirJSONRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


class ListView(generics.ListAPIView):
    schema = ApiSchema()
    pagination_class = ApiPagination
    filter_backends = [StrictFilterBackend]


class DetailView(NoQueryMixin, generics.RetrieveAPIView):
    schema = ApiSchema()
    filter_backends: list = []
    lookup_field = "pk"
    lookup_url_kwarg = "id"


class ReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    """A list and its detail: the list as ListView (cursor pages, strict filters), the detail as
    DetailView (query parameters refused rather than ignored, no filter)."""

    schema = ApiSchema()
    pagination_class = ApiPagination
    filter_backends = [StrictFilterBackend]
    lookup_field = "pk"
    lookup_url_kwarg = "id"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.action == "retrieve":
            reject_query_params(request)

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)


# --- studies -------------------------------------------------------------------------------------


def studies_reached(request):
    """The studies the requester has a role in, narrowed to the token's list when it has one."""
    studies = studies_for_user(user=request.user)
    narrowed = api_token_study_ids(request.auth) if request.auth is not None else None
    if narrowed is not None:
        studies = studies.filter(pk__in=narrowed)
    sites = rows_for_user(Site.objects.order_by("code"), user=request.user, roles=ANY_ROLE)
    return studies.order_by("id").prefetch_related(
        Prefetch("sites", queryset=sites, to_attr="api_sites"),
        Prefetch(
            "timepoints",
            queryset=Timepoint.objects.select_related("version__questionnaire").order_by("order", "offset", "id"),
        ),
    )


class StudyFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Study.Status.choices)

    class Meta:
        model = Study
        fields = ["status"]


@extend_schema_view(
    list=extend_schema(
        summary="Studies where you have a role",
        description="The studies where you have a role (only those of the token's list, if it has one), with your "
        "roles, the sites\nyou reach and the timepoints.",
    ),
    retrieve=extend_schema(
        summary="One study: your roles, its sites and timepoints", description="One study, as in the list."
    ),
)
@extend_schema(tags=["studies"])
class StudyViewSet(ReadOnlyViewSet):
    """The studies where you have a role, with your roles, the sites you reach and the timepoints."""

    serializer_class = StudySerializer
    filterset_class = StudyFilter

    def get_queryset(self):
        return studies_reached(self.request)

    def get_object(self):
        study = access_api_study(self.request, self.kwargs["study"], "surveys.view_study")
        return studies_reached(self.request).get(pk=study.pk)


# --- questionnaire versions ----------------------------------------------------------------------


class VersionFilter(StudyFilterSet):
    questionnaire = filters.CharFilter(
        field_name="questionnaire__code", method="filter_questionnaire", label="Questionnaire code"
    )

    class Meta:
        model = QuestionnaireVersion
        fields: list = []


class VersionObjectMixin(StudyScopedMixin):
    perm = VIEW_VERSIONS
    model = QuestionnaireVersion

    def get_object(self) -> QuestionnaireVersion:
        version = (
            QuestionnaireVersion.objects.select_related("questionnaire")
            .filter(
                questionnaire__study=self.study,
                questionnaire__code=self.kwargs["questionnaire"],
                number=self.kwargs["number"],
            )
            .first()
        )
        if version is None:
            raise exceptions.NotFound(
                _("No version %(number)s of questionnaire %(code)s in this study.")
                % {"number": self.kwargs["number"], "code": self.kwargs["questionnaire"]}
            )
        return version


@extend_schema_view(
    list=extend_schema(
        summary="Published questionnaire versions",
        description="Published versions of the study's questionnaires, each frozen once published.",
    ),
    retrieve=extend_schema(
        summary="One published version, with its frozen definition",
        description="One version and its frozen definition: a FHIR R4 Questionnaire with our extensions (scoring "
        "rules, safety\nmessage).",
    ),
)
@extend_schema(tags=["questionnaires"])
class VersionViewSet(VersionObjectMixin, ReadOnlyViewSet):
    """Published versions of the study's questionnaires; one of them is found by questionnaire code and number."""

    filterset_class = VersionFilter

    def rows(self):
        return self.scoped(
            QuestionnaireVersion.objects.filter(questionnaire__study=self.study).select_related("questionnaire"),
            study_path="questionnaire__study",
        )

    def get_serializer_class(self):
        # The list leaves the definitions out: they are what makes a version large.
        return VersionSerializer if self.action == "list" else VersionDetailSerializer


@extend_schema(
    summary="One published version as a FHIR R4 Questionnaire",
    tags=["questionnaires", "fhir"],
    responses={(200, "application/fhir+json"): OpenApiTypes.OBJECT},
)
class VersionFhir(VersionObjectMixin, DetailView):
    """The version as a FHIR R4 Questionnaire (canonical url, version number), validated against FHIR R4."""

    renderer_classes = [FhirJSONRenderer, JSONRenderer]

    def retrieve(self, request, *args, **kwargs):
        return ApiResponse(questionnaire_export(self.get_object()))


# --- participants --------------------------------------------------------------------------------


class ParticipantFilter(StudyFilterSet):
    status = filters.ChoiceFilter(choices=Participant.Status.choices)
    site = filters.CharFilter(field_name="site__code", label="Site code")
    enrolled_after, enrolled_before = date_range("created_at", "Enrolled")

    class Meta:
        model = Participant
        fields: list = []


@extend_schema_view(
    list=extend_schema(
        summary="Participants, by pseudonym (never an identity)",
        description="Participants by pseudonym: site, status, language, consent, withdrawal and enrolment dates; "
        "never an identity.\nA member limited to a site sees that site's only.",
    ),
    retrieve=extend_schema(summary="One participant", description="One participant, by pseudonym."),
)
@extend_schema(tags=["participants"])
class ParticipantViewSet(StudyScopedMixin, ReadOnlyViewSet):
    """Participants by pseudonym, never an identity; a member limited to a site sees that site's only."""

    perm = VIEW_PARTICIPANTS
    model = Participant
    serializer_class = ParticipantSerializer
    filterset_class = ParticipantFilter
    lookup_field = "pseudonym"
    lookup_url_kwarg = "pseudonym"

    def rows(self):
        return self.scoped(Participant.objects.filter(study=self.study).select_related("site"))


# --- assignments ---------------------------------------------------------------------------------


class AssignmentFilter(StudyFilterSet):
    timepoint = filters.CharFilter(field_name="timepoint__code", method="filter_timepoint", label="Timepoint code")
    questionnaire = filters.CharFilter(
        field_name="timepoint__version__questionnaire__code", method="filter_questionnaire", label="Questionnaire code"
    )
    participant = filters.CharFilter(field_name="participant__pseudonym", label="Pseudonym")
    site = filters.CharFilter(field_name="participant__site__code", label="Site code")
    status = filters.ChoiceFilter(choices=Assignment.Status.choices)
    due_after, due_before = date_range("due_at", "Opening")
    expires_after, expires_before = date_range("expires_at", "Closing")

    class Meta:
        model = Assignment
        fields: list = []


def _assignments(view: StudyScopedMixin):
    return view.scoped(
        Assignment.objects.filter(participant__study=view.study).select_related(
            "participant__site", "timepoint__version__questionnaire", "response"
        )
    )


@extend_schema_view(
    list=extend_schema(
        summary="Assignments: one per participant, timepoint and occurrence",
        description="One row per participant, timepoint and occurrence: when it opens and closes, its status, its "
        "response.",
    ),
    retrieve=extend_schema(summary="One assignment", description="One assignment."),
)
@extend_schema(tags=["assignments"])
class AssignmentViewSet(StudyScopedMixin, ReadOnlyViewSet):
    """One row per participant, timepoint and occurrence: when it opens and closes, its status, its response."""

    perm = VIEW_ASSIGNMENTS
    model = Assignment
    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilter

    def rows(self):
        return _assignments(self)


# --- responses -----------------------------------------------------------------------------------


class ResponseFilter(StudyFilterSet):
    timepoint = filters.CharFilter(
        field_name="assignment__timepoint__code", method="filter_timepoint", label="Timepoint code"
    )
    questionnaire = filters.CharFilter(
        field_name="version__questionnaire__code", method="filter_questionnaire", label="Questionnaire code"
    )
    participant = filters.CharFilter(field_name="assignment__participant__pseudonym", label="Pseudonym")
    site = filters.CharFilter(field_name="assignment__participant__site__code", label="Site code")
    status = filters.ChoiceFilter(choices=Response.Status.choices)
    submitted_after, submitted_before = date_range("submitted_at", "Submitted")
    due_after, due_before = date_range("assignment__due_at", "Assignment opening")

    class Meta:
        model = Response
        fields: list = []


def _responses(view: StudyScopedMixin):
    return view.scoped(
        Response.objects.filter(assignment__participant__study=view.study).select_related(
            "assignment__participant__site", "assignment__timepoint", "version__questionnaire"
        )
    )


@extend_schema_view(
    list=extend_schema(
        summary="Responses with their answers and scores",
        description="Responses, in progress and submitted: answers keyed by item code (linkId), scores computed at "
        "submission.",
    ),
    retrieve=extend_schema(summary="One response", description="One response."),
)
@extend_schema(tags=["responses"])
class ResponseViewSet(StudyScopedMixin, ReadOnlyViewSet):
    """Responses, in progress and submitted: answers keyed by item code (linkId), scores computed at submission."""

    perm = VIEW_RESPONSES
    model = Response
    serializer_class = ResponseSerializer
    filterset_class = ResponseFilter

    def rows(self):
        return _responses(self)


@extend_schema(
    summary="One response as a FHIR R4 QuestionnaireResponse",
    tags=["responses", "fhir"],
    responses={(200, "application/fhir+json"): OpenApiTypes.OBJECT},
)
class ResponseFhir(StudyScopedMixin, DetailView):
    """One response as a FHIR R4 QuestionnaireResponse: subject by pseudonym, questionnaire canonical URL and
    version, nested answers, scores in an extension.
    """

    perm = VIEW_RESPONSES
    model = Response
    renderer_classes = [FhirJSONRenderer, JSONRenderer]

    def rows(self):
        return _responses(self)

    def retrieve(self, request, *args, **kwargs):
        return ApiResponse(response_export(self.get_object()))


# --- scores --------------------------------------------------------------------------------------


class ScoreFilter(ResponseFilter):
    score = filters.CharFilter(method="filter_score", label="Score name, e.g. total")

    status = None  # scores exist for submitted responses only

    class Meta(ResponseFilter.Meta):
        fields: list = []

    def filter_score(self, queryset, name, value):
        # Rows are cut to this score when flattened; responses without it are skipped here.
        return queryset.filter(scores__has_key=value)


def score_rows(response: Response, only: str | None = None) -> list[dict]:
    """The stored scores of one response, one flat row each, in the order they were computed."""
    a = response.assignment
    rows = []
    for name, result in (response.scores or {}).items():
        if only is not None and name != only:
            continue
        result = result if isinstance(result, dict) else {}
        rows.append(
            {
                "response": response.pk,
                "participant": a.participant.pseudonym,
                "site": a.participant.site.code if a.participant.site_id else None,
                "timepoint": a.timepoint.code,
                "occurrence": a.occurrence,
                "questionnaire": response.version.questionnaire.code,
                "version": response.version.number,
                "submitted_at": response.submitted_at,
                "score": name,
                "value": result.get("value"),
                "band": result.get("band"),
                "raw": result.get("raw"),
                "answered": result.get("answered"),
                "of": result.get("of"),
                "prorated": bool(result.get("prorated")),
                "reason": result.get("reason"),
            }
        )
    return rows


@extend_schema(
    summary="Scores, one row per response and score",
    description="Pages count responses: a page of page_size responses holds each of their scores.",
    tags=["responses"],
)
class ScoreList(StudyScopedMixin, ListView):
    perm = VIEW_RESPONSES
    model = Response
    serializer_class = ScoreRowSerializer
    filterset_class = ScoreFilter

    def rows(self):
        return _responses(self).filter(status=Response.Status.COMPLETED)

    def list(self, request, *args, **kwargs):
        responses = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        only = request.query_params.get("score")
        rows = [row for response in responses for row in score_rows(response, only)]
        return self.get_paginated_response(ScoreRowSerializer(rows, many=True).data)


@csrf_exempt  # a POST to a wrong path is "not found", not a CSRF failure page
def api_not_found(request, *args, **kwargs):
    """Any path under /api/ that no route serves: the API's error body, not an HTML page."""
    return JsonResponse(
        {
            "status": 404,
            "code": "not_found",
            "detail": _("No API resource at %(path)s. The list of resources is at /api/docs/.")
            % {"path": request.path},
        },
        status=404,
    )
