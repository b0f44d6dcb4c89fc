from django.urls import include, path

from . import views

app_name = "surveys"

urlpatterns = [
    # Short on purpose: base URL + /s/ + 22-character token fits in one SMS segment.
    path("s/<str:token>", views.respond, name="respond"),
    path("", include("surveys.screening_urls")),
    path("", include("surveys.replan_views")),
    path("", include("surveys.alert_views")),
    path("", include("surveys.correction_views")),
    path("", include("surveys.exports.views")),
    path("", include("surveys.review_views")),
    path("", include("surveys.review_panel_views")),
]
