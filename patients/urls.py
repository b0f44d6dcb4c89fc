"""Every route of the identity side. `urlpatterns` are the pages and provider webhooks (namespace
"patients"), `api_urlpatterns` the scheduled messages under /api/ (docs/api.md); config/urls.py mounts both."""

from django.urls import path

from patients.consent import views as consent
from patients.consent import withdrawal_views as withdrawal
from patients.enrolment import views as enrolment
from patients.messaging import api, outbox_views, sms_webhooks
from surveys.api.base import register_api_converters

register_api_converters()

app_name = "patients"

STUDY_PAGE = "staff/studies/<slug:code>/"

urlpatterns = [
    # Patients: consent from a questionnaire link, and from the public pre-screening link.
    path("s/<str:token>/consent", consent.consent, name="consent"),
    path("e/<str:token>/consent", consent.screening_consent, name="screening_consent"),
    path("e/<str:token>/enrol", consent.screening_enrol, name="screening_enrol"),
    path("e/<str:token>/confirm", consent.screening_confirm, name="screening_confirm"),
    path("e/<str:token>/done", consent.screening_done, name="screening_done"),
    path("s/<str:token>/withdraw", withdrawal.patient_withdraw, name="withdraw"),
    # Investigators.
    path(STUDY_PAGE + "enrol/", enrolment.enrol, name="enrol"),
    path(STUDY_PAGE + "enrolled/<int:pk>/", enrolment.enrolled, name="enrolled"),
    path(STUDY_PAGE + "import/", enrolment.import_patients, name="import"),
    path("staff/participants/<int:pk>/withdraw/", withdrawal.staff_withdraw, name="staff_withdraw"),
    path("staff/participants/<int:pk>/identity/", withdrawal.staff_reidentify, name="staff_reidentify"),
    path(STUDY_PAGE + "outbox/", outbox_views.outbox, name="outbox"),
    path(STUDY_PAGE + "outbox/<int:pk>/resend/", outbox_views.outbox_resend, name="outbox_resend"),
    # SMS provider webhooks (Twilio): inbound STOP/START and delivery status.
    path("hooks/twilio/inbound", sms_webhooks.twilio_inbound, name="twilio_inbound"),
    path("hooks/twilio/status", sms_webhooks.twilio_status, name="twilio_status"),
]

api_urlpatterns = [
    path("studies/<api_code:study>/messages/", api.MessageViewSet.as_view({"get": "list"}), name="api-messages"),
    path(
        "studies/<api_code:study>/messages/<api_id:id>/",
        api.MessageViewSet.as_view({"get": "retrieve"}),
        name="api-message",
    ),
]
