"""Every route of the research side. `urlpatterns` are the pages (namespace "surveys"), `api_urlpatterns`
the API under /api/ (docs/api.md); config/urls.py mounts both."""

from django.urls import path

from surveys.answering import correction_views
from surveys.answering import views as answering
from surveys.api import exports as api_exports
from surveys.api import views as api
from surveys.api.base import register_api_converters
from surveys.api.staff import api_tokens
from surveys.exports import views as exports
from surveys.participants import screening_views
from surveys.review import panel_views, round_views
from surveys.scheduling import views as scheduling
from surveys.scoring import alert_views

register_api_converters()

app_name = "surveys"

STUDY_PAGE = "staff/studies/<slug:code>/"

urlpatterns = [
    # Patients. Short on purpose: base URL + /s/ + 22-character token fits in one SMS segment.
    path("s/<str:token>", answering.respond, name="respond"),
    # Public pre-screening link of a study: /e/<Study.screening_token>.
    path("e/<str:token>", screening_views.screening_page, name="screening"),
    path("e/<str:token>/end", screening_views.screening_end, name="screening_end"),
    # Reviewers.
    path("review/", panel_views.home, name="review_home"),
    path("review/invitation/<str:token>/", panel_views.invitation, name="review_invitation"),
    path("review/rounds/<int:round_id>/", round_views.review_round, name="review-round"),
    # Staff pages of a study.
    path(STUDY_PAGE + "schedule/replan/", scheduling.schedule_replan, name="schedule_replan"),
    path(STUDY_PAGE + "alerts/", alert_views.alerts_page, name="alerts"),
    path(STUDY_PAGE + "alerts/<int:pk>/acknowledge/", alert_views.alert_acknowledge_view, name="alert_acknowledge"),
    path(STUDY_PAGE + "exports/", exports.exports_page, name="exports"),
    path(STUDY_PAGE + "exports/<int:pk>/", exports.export_job_page, name="export_job"),
    path(STUDY_PAGE + "exports/<int:pk>/status.json", exports.export_job_status, name="export_job_status"),
    path(STUDY_PAGE + "exports/<int:pk>/download", exports.export_job_download, name="export_job_download"),
    path("staff/responses/<int:pk>/correct/", correction_views.correct_response_page, name="correct_response"),
    path("staff/api/tokens/", api_tokens, name="api_tokens"),
]

API_STUDY = "studies/<api_code:study>/"

api_urlpatterns = [
    path("studies/", api.StudyViewSet.as_view({"get": "list"}), name="api-studies"),
    path(API_STUDY, api.StudyViewSet.as_view({"get": "retrieve"}), name="api-study"),
    path(API_STUDY + "versions/", api.VersionViewSet.as_view({"get": "list"}), name="api-versions"),
    path(
        API_STUDY + "versions/<api_code:questionnaire>/<api_id:number>/",
        api.VersionViewSet.as_view({"get": "retrieve"}),
        name="api-version",
    ),
    path(
        API_STUDY + "versions/<api_code:questionnaire>/<api_id:number>/fhir/",
        api.VersionFhir.as_view(),
        name="api-version-fhir",
    ),
    path(API_STUDY + "participants/", api.ParticipantViewSet.as_view({"get": "list"}), name="api-participants"),
    path(
        API_STUDY + "participants/<api_pseudonym:pseudonym>/",
        api.ParticipantViewSet.as_view({"get": "retrieve"}),
        name="api-participant",
    ),
    path(API_STUDY + "assignments/", api.AssignmentViewSet.as_view({"get": "list"}), name="api-assignments"),
    path(
        API_STUDY + "assignments/<api_id:id>/",
        api.AssignmentViewSet.as_view({"get": "retrieve"}),
        name="api-assignment",
    ),
    path(API_STUDY + "responses/", api.ResponseViewSet.as_view({"get": "list"}), name="api-responses"),
    path(API_STUDY + "responses/<api_id:id>/", api.ResponseViewSet.as_view({"get": "retrieve"}), name="api-response"),
    path(API_STUDY + "responses/<api_id:id>/fhir/", api.ResponseFhir.as_view(), name="api-response-fhir"),
    path(API_STUDY + "scores/", api.ScoreList.as_view(), name="api-scores"),
    path(
        API_STUDY + "exports/", api_exports.ExportViewSet.as_view({"get": "list", "post": "create"}), name="api-exports"
    ),
    path(API_STUDY + "exports/<api_id:id>/", api_exports.ExportViewSet.as_view({"get": "retrieve"}), name="api-export"),
    path(API_STUDY + "exports/<api_id:id>/download/", api_exports.ExportDownload.as_view(), name="api-export-download"),
]
