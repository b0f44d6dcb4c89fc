"""/api/ routes of the research side. Scheduled messages (identity side) are in patients/api.py;
the schema and its docs in config/urls.py."""

from django.urls import path

from . import exports, views
from .base import register_api_converters

register_api_converters()

STUDY = "studies/<api_code:study>/"

urlpatterns = [
    path("studies/", views.StudyList.as_view(), name="api-studies"),
    path(STUDY, views.StudyDetail.as_view(), name="api-study"),
    path(STUDY + "versions/", views.VersionList.as_view(), name="api-versions"),
    path(STUDY + "versions/<api_code:questionnaire>/<api_id:number>/", views.VersionDetail.as_view(),
         name="api-version"),
    path(STUDY + "versions/<api_code:questionnaire>/<api_id:number>/fhir/", views.VersionFhir.as_view(),
         name="api-version-fhir"),
    path(STUDY + "participants/", views.ParticipantList.as_view(), name="api-participants"),
    path(STUDY + "participants/<api_pseudonym:pseudonym>/", views.ParticipantDetail.as_view(),
         name="api-participant"),
    path(STUDY + "assignments/", views.AssignmentList.as_view(), name="api-assignments"),
    path(STUDY + "assignments/<api_id:id>/", views.AssignmentDetail.as_view(), name="api-assignment"),
    path(STUDY + "responses/", views.ResponseList.as_view(), name="api-responses"),
    path(STUDY + "responses/<api_id:id>/", views.ResponseDetail.as_view(), name="api-response"),
    path(STUDY + "responses/<api_id:id>/fhir/", views.ResponseFhir.as_view(), name="api-response-fhir"),
    path(STUDY + "scores/", views.ScoreList.as_view(), name="api-scores"),
    path(STUDY + "exports/", exports.ExportList.as_view(), name="api-exports"),
    path(STUDY + "exports/<api_id:id>/", exports.ExportDetail.as_view(), name="api-export"),
    path(STUDY + "exports/<api_id:id>/download/", exports.ExportDownload.as_view(), name="api-export-download"),
]
