from django.http import HttpResponse
from django.urls import include, path


def ping(request):
    """The baseline: a Django view that does nothing, through the same middleware."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/ping", ping), path("", include("config.urls"))]
