"""URL patterns of this part of the patients app (see patients/urls.py)."""

urlpatterns: list = []
