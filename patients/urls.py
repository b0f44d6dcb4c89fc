"""Identity-domain pages: staff enrolment and import, patient consent and withdrawal."""

from django.urls import include, path

app_name = "patients"

urlpatterns = [
    path("", include("patients.web.enrolment")),
    path("", include("patients.web.consent")),
    path("", include("patients.web.withdrawal")),
    path("", include("patients.webhooks")),
    path("", include("patients.web.outbox")),
]
