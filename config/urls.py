from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("surveys.urls")),
    path("", include("patients.urls")),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
