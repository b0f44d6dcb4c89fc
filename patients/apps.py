from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = _("Identities (restricted)")

    def ready(self) -> None:
        from patients import receivers  # noqa: F401
        from patients.messaging import (
            dispatch,
            email_tracking,  # noqa: F401  (connects to anymail's signal on import)
        )
        from patients.messaging.sms import sms_failed_permanently
        from surveys import signals

        signals.response_completed.connect(receivers.on_response_completed, dispatch_uid="patients_completed")
        signals.assignments_expired.connect(receivers.on_assignments_expired, dispatch_uid="patients_expired")
        signals.assignments_replanned.connect(receivers.on_assignments_replanned, dispatch_uid="patients_replanned")
        # A late "undelivered" from Twilio with a bad-number code: the same send goes by email.
        sms_failed_permanently.connect(dispatch.on_sms_failed_permanently, dispatch_uid="patients_sms_fallback")
