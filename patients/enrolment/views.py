"""Investigator pages: enrol one patient, or import many from a spreadsheet.

Views stay thin: parse the form or file, call patients.enrolment.enrol / patients.enrolment.importing,
render. Rights: `patients.add_enrollment` on the study (investigators of the study);
any other study is "not found". An investigator limited to one site enrols at that
site only (surveys.staff.selectors.sites_for_user).
"""

from __future__ import annotations

import hashlib

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from patients.enrolment.enrol import EnrolmentData, EnrolmentInvalid, enrollment_create, planned_schedule
from patients.enrolment.importing import HEADERS, ImportInvalid, import_check, import_read, import_run
from patients.models import Enrollment, Patient
from surveys.interop import uploads
from surveys.models import ConsentNotice, Site, Study
from surveys.rules import roles_for
from surveys.staff.pages import study_for_page
from surveys.staff.selectors import sites_for_user

ENROL_PERM = "patients.add_enrollment"
# Patient data must not be remembered by the browser of a shared practice computer.
NO_AUTOFILL = {"autocomplete": "off"}


def allowed_sites(request: HttpRequest, study: Study) -> tuple[list[Site], bool]:
    """(sites offered, forced): forced when the investigator's membership is limited to sites."""
    limited = sites_for_user(user=request.user, study=study, roles=roles_for(ENROL_PERM))
    if limited is None:
        return list(study.sites.order_by("code")), False
    return list(limited), True


def notice_versions(study: Study) -> list[str]:
    """Versions of the study's information notice, newest first, each once (one row per language)."""
    versions: list[str] = []
    for version in ConsentNotice.objects.filter(study=study).order_by("-created_at").values_list("version", flat=True):
        if version not in versions:
            versions.append(version)
    return versions


class EnrolForm(forms.Form):
    """Strings only: every rule lives in patients.enrolment.enrol.enrolment_problems, whose
    problems come back on the fields of the same names."""

    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={**NO_AUTOFILL, "autofocus": True}),
    )
    phone = forms.CharField(
        label=gettext_lazy("Mobile phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={**NO_AUTOFILL, "type": "tel", "inputmode": "tel"}),
        help_text=gettext_lazy("e.g. 06 12 34 56 78 or +33 6 12 34 56 78"),
    )
    email = forms.CharField(
        label=gettext_lazy("Email"), max_length=254, required=False, widget=forms.EmailInput(attrs=NO_AUTOFILL)
    )
    birth_date = forms.CharField(
        label=gettext_lazy("Date of birth"),
        max_length=10,
        required=False,
        widget=forms.DateInput(attrs={**NO_AUTOFILL, "type": "date"}),
    )
    preferred_channel = forms.ChoiceField(
        label=gettext_lazy("Send links by"),
        choices=Patient.Channel.choices,
        initial=Patient.Channel.SMS,
        widget=forms.RadioSelect,
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"), widget=forms.RadioSelect)
    time_zone = forms.CharField(
        label=gettext_lazy("Time zone"), max_length=64, required=False, widget=forms.TextInput(attrs=NO_AUTOFILL)
    )
    site = forms.ChoiceField(label=gettext_lazy("Site"), required=False)
    consent_method = forms.ChoiceField(label=gettext_lazy("Consent"), widget=forms.RadioSelect)
    notice_version = forms.ChoiceField(label=gettext_lazy("Information notice given"), required=False)
    external_id = forms.CharField(
        label=gettext_lazy("Identifier for the pseudonym"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs=NO_AUTOFILL),
        help_text=gettext_lazy(
            "Hospital or national number: the pseudonym is derived from it; the identifier itself is never stored."
        ),
    )

    def __init__(self, *args, study: Study, sites: list[Site], site_forced: bool, **kwargs):
        super().__init__(*args, **kwargs)
        names = dict(Patient._meta.get_field("language").choices)
        self.fields["language"].choices = [(code, names.get(code, code)) for code in study.languages]
        self.fields["language"].initial = study.fallback_language
        self.fields["time_zone"].initial = study.time_zone
        self.fields["time_zone"].widget.attrs["placeholder"] = study.time_zone

        site_field = self.fields["site"]
        if site_forced:
            site_field.choices = [(s.code, str(s)) for s in sites]
            site_field.required = True
            if len(sites) == 1:
                site_field.initial = sites[0].code
                site_field.disabled = True
                site_field.help_text = _("Your access is limited to this site.")
        elif sites:
            site_field.choices = [("", _("— no site —")), *((s.code, str(s)) for s in sites)]
        else:
            del self.fields["site"]

        methods = [Enrollment.ConsentMethod.WRITTEN]
        if study.legal_basis == Study.LegalBasis.NON_OPPOSITION:
            methods.append(Enrollment.ConsentMethod.NON_OPPOSITION)
        versions = notice_versions(study)
        if versions:
            # Online consent needs a notice to sign; offered first, as it needs nothing more here.
            methods.insert(0, Enrollment.ConsentMethod.PENDING)
            self.fields["notice_version"].choices = [(v, v) for v in versions]
            self.fields["notice_version"].initial = versions[0]
        else:
            del self.fields["notice_version"]
        labels = dict(Enrollment.ConsentMethod.choices)
        self.fields["consent_method"].choices = [(m.value, labels[m.value]) for m in methods]
        self.fields["consent_method"].initial = methods[0].value

        if study.pseudonym_mode != Study.PseudonymMode.EXTERNAL_ID:
            del self.fields["external_id"]

    def describe_fields(self) -> None:
        """Link each input to its help text and error message (aria-describedby), after validation."""
        for name, field in self.fields.items():
            bound = self[name]
            ids = []
            if self.is_bound and bound.errors:
                ids.append(f"{bound.auto_id}_error")
                field.widget.attrs["aria-invalid"] = "true"
            if field.help_text:
                ids.append(f"{bound.auto_id}_help")
            if ids:
                field.widget.attrs["aria-describedby"] = " ".join(ids)

    def data_for_enrolment(self) -> EnrolmentData:
        values = {name: self.cleaned_data.get(name) or "" for name in self.fields}
        return EnrolmentData(**values)


def _enrol_context(request: HttpRequest, study: Study, **extra) -> dict:
    from django.contrib import admin

    return {**admin.site.each_context(request), "study": study, **extra}


@staff_member_required
def enrol(request: HttpRequest, code: str) -> HttpResponse:
    study = study_for_page(request, code, ENROL_PERM)
    sites, forced = allowed_sites(request, study)
    form = EnrolForm(request.POST or None, study=study, sites=sites, site_forced=forced)
    if request.method == "POST" and form.is_valid():
        try:
            enrollment = enrollment_create(
                study=study, data=form.data_for_enrolment(), by=request.user, now=timezone.now()
            )
        except EnrolmentInvalid as invalid:
            for field, message in invalid.problems.items():
                form.add_error(field if field in form.fields else None, message)
        else:
            return redirect("patients:enrolled", code=study.code, pk=enrollment.pk)
    form.describe_fields()
    return TemplateResponse(
        request,
        "staff/enrol.html",
        _enrol_context(
            request,
            study,
            form=form,
            title=_("Enrol a patient in %(study)s") % {"study": study.code},
        ),
    )


@staff_member_required
def enrolled(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    study = study_for_page(request, code, ENROL_PERM)
    enrollment = get_object_or_404(
        Enrollment.objects.select_related("participant__site"), pk=pk, participant__study=study
    )
    if not request.user.has_perm("patients.view_enrollment", enrollment):
        raise Http404(_("No such object in your studies."))
    return TemplateResponse(
        request,
        "staff/enrol_done.html",
        _enrol_context(
            request,
            study,
            enrollment=enrollment,
            schedule=planned_schedule(enrollment),
            title=_("Patient enrolled"),
        ),
    )


# --- import -----------------------------------------------------------------------------------


class InMemoryUploadHandler(MemoryFileUploadHandler):
    """Keeps the whole upload in memory, never in a temporary file: the file holds identities
    in clear, and Django writes uploads above 2.5 MB to disk otherwise."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > uploads.max_bytes():
            raise StopUpload(connection_reset=False)
        self.activated = True

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > uploads.max_bytes():
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Spreadsheet (.csv or .xlsx)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )
    # SHA-256 of the file that passed the dry run: "import" accepts only that same file.
    checked = forms.CharField(required=False, widget=forms.HiddenInput)


@csrf_exempt
@staff_member_required
def import_patients(request: HttpRequest, code: str) -> HttpResponse:
    # The handler must be set before the body is read, hence csrf_exempt outside and
    # csrf_protect inside (Django's documented pattern for per-view upload handlers).
    request.upload_handlers = [InMemoryUploadHandler(request)]
    return _import_patients(request, code)


@csrf_protect
def _import_patients(request: HttpRequest, code: str) -> HttpResponse:
    study = study_for_page(request, code, ENROL_PERM)
    sites, forced = allowed_sites(request, study)
    only_site = sites[0] if forced and len(sites) == 1 else None
    context = _enrol_context(
        request,
        study,
        title=_("Import patients into %(study)s") % {"study": study.code},
        headers=HEADERS,
        sites=sites,
        only_site=only_site,
        form=ImportForm(),
    )
    if request.method != "POST":
        return TemplateResponse(request, "staff/import.html", context)

    form = ImportForm(request.POST, request.FILES)
    context["form"] = form
    if not form.is_valid():
        return TemplateResponse(request, "staff/import.html", context, status=400)
    upload = form.cleaned_data["file"]
    content = upload.read()
    digest = hashlib.sha256(content).hexdigest()
    importing = request.POST.get("action") == "import"
    try:
        rows = import_read(filename=upload.name, content=content)
        if importing and form.cleaned_data["checked"] != digest:
            context["mismatch"] = True
            importing = False
        if importing:
            result = import_run(study=study, rows=rows, by=request.user, now=timezone.now(), only_site=only_site)
            messages.success(
                request,
                ngettext(
                    "%(count)d patient enrolled, %(planned)d questionnaires planned.",
                    "%(count)d patients enrolled, %(planned)d questionnaires planned.",
                    result.enrolled,
                )
                % {"count": result.enrolled, "planned": result.assignments},
            )
            return redirect("patients:import", code=study.code)
        problems = import_check(study=study, rows=rows, only_site=only_site, by=request.user)
    except ImportInvalid as invalid:
        problems, rows = invalid.problems, []
    context.update(problems=problems, row_count=len(rows) if not problems else None, filename=upload.name)
    if not problems:
        context["confirm"] = ImportForm(initial={"checked": digest})
    return TemplateResponse(request, "staff/import.html", context, status=200 if not problems else 400)
