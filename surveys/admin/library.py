"""Admin page of the instrument library (surveys/interop/library.py): every instrument with its licence, source
and version, and a one-click "Add to study" that creates the draft through the import service.

Every study role may read the page; adding needs the right to add questionnaires in the chosen study
(designers, surveys/rules.py). The view is registered on the admin site itself (URL name
`admin:surveys_library`), so it gets the admin's login, staff check and layout.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from surveys.interop.imports import ImportRefused
from surveys.interop.library import instrument_import, instruments_list, language_now
from surveys.models import Questionnaire, Study
from surveys.rules import roles_for
from surveys.staff.selectors import studies_for_user

ADD_PERM = "surveys.add_questionnaire"


def design_studies(user) -> QuerySet[Study]:
    """Studies where `user` may add questionnaires, i.e. import an instrument."""
    return studies_for_user(user=user, roles=roles_for(ADD_PERM)).order_by("code")


class AddToStudyForm(forms.Form):
    instrument = forms.ChoiceField(label=gettext_lazy("instrument"))
    study = forms.ModelChoiceField(label=gettext_lazy("study"), queryset=Study.objects.none())

    def __init__(self, *args, studies: QuerySet[Study], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = [(i.code, i.code) for i in instruments_list() if i.free]
        self.fields["study"].queryset = studies


def library_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("surveys.view_questionnaire"):
        raise PermissionDenied
    here = reverse("admin:surveys_library")
    studies = design_studies(request.user)
    if request.method == "POST":
        if not request.user.has_perm(ADD_PERM):
            raise PermissionDenied
        form = AddToStudyForm(request.POST, studies=studies)
        if not form.is_valid():
            messages.error(
                request, _("Choose a free instrument and one of the studies where you design questionnaires.")
            )
            return HttpResponseRedirect(here)
        study, code = form.cleaned_data["study"], form.cleaned_data["instrument"]
        if not request.user.has_perm(ADD_PERM, study):
            raise PermissionDenied
        try:
            questionnaire = instrument_import(study=study, code=code, by=request.user)
        except ImportRefused as refused:
            for problem in refused.problems:
                messages.error(
                    request,
                    _("%(code)s was not added to study %(study)s — %(where)s: %(message)s")
                    % {"code": code, "study": study.code, "where": problem.where, "message": problem.message},
                )
            return HttpResponseRedirect(here)
        messages.success(
            request,
            _("%(questionnaire)s added as a draft: check it, then publish it.") % {"questionnaire": questionnaire},
        )
        return HttpResponseRedirect(reverse("admin:surveys_questionnaire_change", args=[questionnaire.pk]))

    language = language_now()
    instruments = instruments_list()
    studies = list(studies)
    context = {
        **admin.site.each_context(request),
        "title": _("Instrument library"),
        "opts": Questionnaire._meta,
        "language": language,
        "free": [_row(i, language) for i in instruments if i.free],
        "licensed": [_row(i, language) for i in instruments if i.licensed],
        "studies": studies,
        "can_add": bool(studies) and request.user.has_perm(ADD_PERM),
    }
    return TemplateResponse(request, "admin/surveys/library/library.html", context)


def _row(instrument, language: str) -> dict:
    return {
        "code": instrument.code,
        "title": instrument.title_in(language),
        "version": instrument.version,
        "items": instrument.item_count,
        "publisher": instrument.publisher,
        "licence_holder": instrument.licence_holder,
        "licence": instrument.licence_in(language),
        "licence_url": instrument.licence_url,
        "source": instrument.source,
        "scores": instrument.scores_in(language),
        "missing_data": instrument.missing_data_in(language),
        "requirement": instrument.requirement_in(language),
    }


def _with_library_url(get_urls):
    # Prepended to the site's own URLs, ahead of the admin's catch-all; wraps whatever get_urls is now.
    def get_urls_with_library() -> list:
        return [path("surveys/library/", admin.site.admin_view(library_view), name="surveys_library"), *get_urls()]

    return get_urls_with_library


admin.site.get_urls = _with_library_url(admin.site.get_urls)
