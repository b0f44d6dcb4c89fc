"""Public pre-screening link of a study: /e/<Study.screening_token> (see surveys/participants/screening_views.py)."""

from django.urls import path

from surveys.participants import screening_views

urlpatterns = [
    path("e/<str:token>", screening_views.screening_page, name="screening"),
    path("e/<str:token>/end", screening_views.screening_end, name="screening_end"),
]
