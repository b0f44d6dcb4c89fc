from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import patients.urls
import surveys.urls
from config.staff_invites import staff_invitation_accept
from surveys.api.policies import ApiDocsAccess
from surveys.api.views import api_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # Staff invitation link: sets the password and allows setting up the first authenticator (a secret: config/logging.py).
    path("staff-invitation/<str:token>/", staff_invitation_accept, name="staff_invitation"),
    # Email providers' delivery and bounce webhooks (django-anymail), received in patients/messaging/email_tracking.py.
    path("hooks/anymail/", include("anymail.urls")),
    # The API for programs (docs/api.md): research resources, then scheduled messages (identity side).
    path("api/", include(surveys.urls.api_urlpatterns)),
    path("api/", include(patients.urls.api_urlpatterns)),
    # Open in the demo, signed-in users only in production (RESSENTI_API_DOCS_PUBLIC).
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[ApiDocsAccess]), name="api-schema"),
    # Swagger UI from our static files; its script is a separate request, so the CSP needs no inline script.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html", permission_classes=[ApiDocsAccess]
        ),
        name="api-docs",
    ),
    # Anything else under /api/ is a JSON 404 like the API's own, not an HTML page.
    re_path(r"^api/", api_not_found),
    path("", include("surveys.urls")),
    path("", include("patients.urls")),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]

# A server error in the reader's language and the patient layout, rendered without the database.
handler500 = "surveys.answering.error_views.server_error"
