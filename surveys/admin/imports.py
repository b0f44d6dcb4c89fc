"""Admin pages that import: questionnaires (FHIR, REDCap...) and legacy responses (FHIR).

Each is upload → preview → confirm. The checked file travels to the confirmation inside a
signed, compressed form field (django.core.signing, bound to the user, the study and the
format, valid one hour): what is imported is exactly what was previewed, parsed again, and
nothing is stored on the server in between. The rules live in the services
(surveys.interop.imports, surveys.interop.fhir); these views only parse forms and call them. The
management commands import_questionnaire / import_responses_fhir run the same services.
"""

from __future__ import annotations

import base64
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from surveys.interop.fhir.draft_rows import RowsRefused, questionnaire_rows_from_source, rows_losses
from surveys.interop.fhir.questionnaire_import import question_count
from surveys.interop.fhir.response_import import ResponsesImport, responses_import
from surveys.interop.imports import FORMATS, ImportRefused, ImportResult, import_parse, questionnaire_import
from surveys.models import Questionnaire, Study, Timepoint
from surveys.questionnaires import fhir
from surveys.rules import DATA_MANAGER, roles_for
from surveys.staff.selectors import sites_for_user, studies_for_user

# The confirm step posts the file back in a signed field, which counts against Django's
# DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB): 1.5 MB stays under it even uncompressed and in base64.
# Larger files go through the management commands.
MAX_UPLOAD_BYTES = 1536 * 1024
TOKEN_MAX_AGE = 3600
QUESTIONNAIRE_SALT = "surveys.admin.imports.questionnaire"
RESPONSES_SALT = "surveys.admin.imports.responses"
# Legacy answers are research data: loaded by data managers (and superusers).
RESPONSE_IMPORT_ROLES = (DATA_MANAGER,)


def design_studies(user: Any) -> QuerySet[Study]:
    """Studies where the user may create questionnaires (designers; every study for a superuser)."""
    return studies_for_user(user=user, roles=roles_for("surveys.add_questionnaire"))


def response_import_studies(user: Any) -> QuerySet[Study]:
    return studies_for_user(user=user, roles=RESPONSE_IMPORT_ROLES)


def _pack(content: bytes, *, salt: str, **bound: Any) -> str:
    return signing.dumps({**bound, "data": base64.b64encode(content).decode()}, salt=salt, compress=True)


def _unpack(token: str, *, salt: str, user_id: int) -> dict | None:
    try:
        payload = signing.loads(token, salt=salt, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:  # tampered with, or older than an hour
        return None
    if payload.get("user") != user_id:
        return None
    payload["content"] = base64.b64decode(payload.pop("data"))
    return payload


def _too_large() -> str:
    return _("The file is larger than %(size)s: import it with the management command instead.") % {"size": "1.5 MB"}


def _read(upload) -> bytes | None:
    if upload.size > MAX_UPLOAD_BYTES:
        return None
    return upload.read()


# --- questionnaires --------------------------------------------------------------------------------


class QuestionnaireImportForm(forms.Form):
    study = forms.ModelChoiceField(label=gettext_lazy("Study"), queryset=Study.objects.none())
    format = forms.ChoiceField(label=gettext_lazy("Format"))
    file = forms.FileField(label=gettext_lazy("File"))
    code = forms.SlugField(
        label=gettext_lazy("Questionnaire code"),
        max_length=40,
        required=False,
        help_text=gettext_lazy(
            "Leave empty to take it from the file (FHIR: name or id). For a file with one questionnaire only."
        ),
    )
    # Not "prefix": a form's own attribute (the prefix of its field names).
    code_prefix = forms.CharField(
        label=gettext_lazy("Prefix of the codes"),
        max_length=39,
        required=False,
        validators=[RegexValidator(r"^[-a-zA-Z0-9_]+$", gettext_lazy("Use letters, digits, - or _."))],
        help_text=gettext_lazy(
            "Put in front of every questionnaire code of the file, e.g. b_ for a second REDCap project whose "
            "instrument names the study already uses. Instead of a questionnaire code."
        ),
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Language of the texts"),
        required=False,
        help_text=gettext_lazy(
            "When the file does not say (FHIR: its language element; English when absent). A file's own language wins."
        ),
    )
    language_override = forms.ChoiceField(
        label=gettext_lazy("Override the file's language"),
        required=False,
        help_text=gettext_lazy(
            "Only for a file that states a wrong language: its texts are taken as this language whatever it says."
        ),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["study"].queryset = design_studies(user)
        self.fields["format"].choices = [(key, label) for key, (label, _path) in FORMATS.items()]
        self.fields["language"].choices = [("", _("as the file says"))] + [
            (code, _(name)) for code, name in settings.LANGUAGES
        ]
        override = self.fields["language_override"]
        assert isinstance(override, forms.ChoiceField)  # declared above
        override.choices = [("", _("no override"))] + [(code, _(name)) for code, name in settings.LANGUAGES]


def _preview_rows(result: ImportResult, study: Study) -> list[dict]:
    rows = []
    for found in result.questionnaires:
        base = found.definition.get("language") or study.fallback_language
        rows.append(
            {
                "code": found.code,
                "title": fhir.localized(found.definition, "title", base, base),
                "language": base,
                "questions": question_count(found.definition),
                "warnings": found.warnings,
            }
        )
    return rows


def questionnaire_import_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    if not design_studies(request.user).exists():
        raise PermissionDenied
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": Questionnaire._meta,
        "title": _("Import a questionnaire"),
        "form": QuestionnaireImportForm(user=request.user),
        "library_url": library_url(),
    }
    if request.method != "POST":
        return TemplateResponse(request, "admin/surveys/imports/questionnaire.html", context)

    if request.POST.get("action") == "import":
        payload = _unpack(request.POST.get("token", ""), salt=QUESTIONNAIRE_SALT, user_id=request.user.pk)
        study = design_studies(request.user).filter(pk=(payload or {}).get("study")).first()
        if payload is None or study is None:
            context["expired"] = True
            return TemplateResponse(request, "admin/surveys/imports/questionnaire.html", context, status=400)
        result = import_parse(
            format_=payload["format"],
            content=payload["content"],
            study=study,
            code=payload["code"],
            prefix=payload.get("prefix", ""),
            language=payload["language"],
            language_override=payload.get("language_override", ""),
        )
        try:
            created = questionnaire_import(study=study, result=result, format_=payload["format"], by=request.user)
        except ImportRefused as refused:  # the study changed since the preview (a code taken meanwhile)
            context.update(problems=refused.problems, study=study)
            return TemplateResponse(request, "admin/surveys/imports/questionnaire.html", context, status=400)
        messages.success(
            request,
            ngettext(
                "Imported %(count)d questionnaire as a draft: %(codes)s.",
                "Imported %(count)d questionnaires as drafts: %(codes)s.",
                len(created),
            )
            % {"count": len(created), "codes": ", ".join(q.code for q in created)},
        )
        if len(created) == 1:
            return HttpResponseRedirect(reverse("admin:surveys_questionnaire_change", args=[created[0].pk]))
        return HttpResponseRedirect(
            reverse("admin:surveys_questionnaire_changelist") + "?" + urlencode({"study__id__exact": study.pk})
        )

    form = QuestionnaireImportForm(request.POST, request.FILES, user=request.user)
    context["form"] = form
    if not form.is_valid():
        return TemplateResponse(request, "admin/surveys/imports/questionnaire.html", context, status=400)
    content = _read(form.cleaned_data["file"])
    if content is None:
        form.add_error("file", _too_large())
        return TemplateResponse(request, "admin/surveys/imports/questionnaire.html", context, status=400)
    study, format_ = form.cleaned_data["study"], form.cleaned_data["format"]
    code, language = form.cleaned_data["code"] or "", form.cleaned_data["language"] or ""
    prefix = form.cleaned_data["code_prefix"] or ""
    language_override = form.cleaned_data["language_override"] or ""
    result = import_parse(
        format_=format_,
        content=content,
        study=study,
        code=code,
        prefix=prefix,
        language=language,
        language_override=language_override,
    )
    context.update(
        study=study,
        filename=form.cleaned_data["file"].name,
        problems=result.problems,
        found=_preview_rows(result, study),
    )
    if result.ok:
        context["token"] = _pack(
            content,
            salt=QUESTIONNAIRE_SALT,
            user=request.user.pk,
            study=study.pk,
            format=format_,
            code=code,
            prefix=prefix,
            language=language,
            language_override=language_override,
        )
    return TemplateResponse(
        request, "admin/surveys/imports/questionnaire.html", context, status=200 if result.ok else 400
    )


def library_url() -> str:
    try:
        return reverse("admin:surveys_library")
    except Exception:  # noqa: BLE001 - the library page is optional here (NoReverseMatch)
        return ""


# --- responses ---------------------------------------------------------------------------------------


class TimepointChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Timepoint) -> str:
        return f"{obj.study.code} · {obj.code} — {obj.version.questionnaire.code} v{obj.version.number}"


class ResponsesImportForm(forms.Form):
    timepoint = TimepointChoice(label=gettext_lazy("Timepoint"), queryset=Timepoint.objects.none())
    file = forms.FileField(label=gettext_lazy("FHIR QuestionnaireResponses (NDJSON or a Bundle in JSON)"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timepoint"].queryset = (
            Timepoint.objects.filter(study__in=response_import_studies(user))
            .select_related("study", "version__questionnaire")
            .order_by("study__code", "order", "code")
        )


def responses_import_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    if not response_import_studies(request.user).exists():
        raise PermissionDenied
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": Questionnaire._meta,
        "title": _("Import responses (FHIR)"),
        "form": ResponsesImportForm(user=request.user),
    }
    template = "admin/surveys/imports/responses.html"
    if request.method != "POST":
        return TemplateResponse(request, template, context)

    def run(timepoint: Timepoint, content: bytes, *, dry_run: bool) -> ResponsesImport:
        sites = sites_for_user(user=request.user, study=timepoint.study, roles=RESPONSE_IMPORT_ROLES)
        return responses_import(
            study=timepoint.study, timepoint=timepoint, content=content, by=request.user, dry_run=dry_run, sites=sites
        )

    allowed = Timepoint.objects.filter(study__in=response_import_studies(request.user)).select_related("study")
    if request.POST.get("action") == "import":
        payload = _unpack(request.POST.get("token", ""), salt=RESPONSES_SALT, user_id=request.user.pk)
        timepoint = allowed.filter(pk=(payload or {}).get("timepoint")).first()
        if payload is None or timepoint is None:
            context["expired"] = True
            return TemplateResponse(request, template, context, status=400)
        result = run(timepoint, payload["content"], dry_run=False)
        if not result.ok:
            context.update(result=result, timepoint=timepoint)
            return TemplateResponse(request, template, context, status=400)
        messages.success(
            request,
            _("%(created)s responses imported into %(timepoint)s, %(unchanged)s already there.")
            % {"created": result.created, "timepoint": timepoint.code, "unchanged": result.unchanged},
        )
        return HttpResponseRedirect(reverse("admin:surveys_response_changelist"))

    form = ResponsesImportForm(request.POST, request.FILES, user=request.user)
    context["form"] = form
    if not form.is_valid():
        return TemplateResponse(request, template, context, status=400)
    content = _read(form.cleaned_data["file"])
    if content is None:
        form.add_error("file", _too_large())
        return TemplateResponse(request, template, context, status=400)
    timepoint = get_object_or_404(allowed, pk=form.cleaned_data["timepoint"].pk)
    result = run(timepoint, content, dry_run=True)
    context.update(result=result, timepoint=timepoint, filename=form.cleaned_data["file"].name)
    if result.ok and result.created:
        context["token"] = _pack(content, salt=RESPONSES_SALT, user=request.user.pk, timepoint=timepoint.pk)
    return TemplateResponse(request, template, context, status=200 if result.ok else 400)


# --- an imported draft into editable rows ----------------------------------------------------------------


def copy_into_rows_view(request: HttpRequest, pk: int, model_admin: admin.ModelAdmin) -> HttpResponse:
    questionnaire = get_object_or_404(
        Questionnaire.objects.select_related("study").filter(study__in=studies_for_user(user=request.user)), pk=pk
    )
    if not request.user.has_perm("surveys.change_questionnaire", questionnaire):
        raise PermissionDenied
    change_url = reverse("admin:surveys_questionnaire_change", args=[questionnaire.pk])
    if not questionnaire.source_definition:
        return HttpResponseRedirect(change_url)
    losses = rows_losses(questionnaire)
    if request.method == "POST" and not losses:
        try:
            questionnaire_rows_from_source(questionnaire=questionnaire, by=request.user)
        except RowsRefused as refused:
            losses = refused.losses
        else:
            messages.success(request, _("The draft's items are now editable rows."))
            return HttpResponseRedirect(change_url)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Questionnaire._meta,
        "original": questionnaire,
        "title": _("Copy the imported definition into editable rows?"),
        "losses": losses,
    }
    return TemplateResponse(
        request,
        "admin/surveys/imports/copy_into_rows.html",
        context,
        status=400 if losses and request.method == "POST" else 200,
    )


def questionnaire_admin_urls(model_admin: admin.ModelAdmin) -> list:
    """URLs added to QuestionnaireAdmin (before its own object URLs)."""
    view = model_admin.admin_site.admin_view
    return [
        path(
            "import/",
            view(lambda request: questionnaire_import_view(request, model_admin)),
            name="surveys_questionnaire_import",
        ),
        path(
            "import-responses/",
            view(lambda request: responses_import_view(request, model_admin)),
            name="surveys_response_import",
        ),
        path(
            "<int:pk>/copy-into-rows/",
            view(lambda request, pk: copy_into_rows_view(request, pk, model_admin)),
            name="surveys_questionnaire_copy_into_rows",
        ),
    ]
