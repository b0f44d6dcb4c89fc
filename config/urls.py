from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # Email providers' delivery and bounce webhooks (django-anymail), received in patients/tracking.py.
    path("hooks/anymail/", include("anymail.urls")),
    path("", include("surveys.urls")),
    path("", include("patients.urls")),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
