"""Admin of the research domain; each module registers its admins on import."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("Ressenti — study administration")
admin.site.site_title = "Ressenti"
admin.site.index_title = _("Studies, questionnaires and participants")
# Each study of the user first, with the pages their role opens there (surveys/templatetags/staff_pages.py).
admin.site.index_template = "admin/surveys/index.html"

from surveys.admin import (  # noqa: F401,E402
    accounts,
    alerts,
    base,
    consent,
    design,
    imports,
    library,
    records,
    review,
    review_panels,
    studies,
)
