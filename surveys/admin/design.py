"""The questionnaire designer: drafts, sections, items, options, conditions, and the published versions.

Writes go through services (publish, copy into draft); the admin stays thin.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter, helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Max, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from surveys.admin import imports, review
from surveys.admin.base import READ_ONLY, StudyScopedAdmin, StudyScopedInline, pretty_json
from surveys.admin.forms import ConditionForm, LabelledRowsFormSet, QuestionnaireForm, answer_choices, questions_of
from surveys.admin.history import AuditedHistoryAdmin
from surveys.answering.rendering import build_pages, render_preview
from surveys.interop.imports import EXPORTS, exporter
from surveys.models import (
    AnswerOption,
    EnableCondition,
    Item,
    Questionnaire,
    QuestionnaireVersion,
    Section,
)
from surveys.questionnaires import fhir
from surveys.questionnaires.changes import KIND_LABELS, changes_by_kind, definition_changes
from surveys.questionnaires.publish import (
    PublishError,
    content_problems,
    questionnaire_draft_from_version,
    questionnaire_publish,
)
from surveys.questionnaires.values import SCALE_DEFAULT_RANGE
from surveys.review import rounds
from surveys.scoring import compute
from surveys.staff.selectors import studies_for_user

# --- frozen codes ------------------------------------------------------------------------------


class FrozenCodeForm(forms.ModelForm):
    """Codes become export columns: once a row exists its code field is disabled."""

    frozen_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name in self.frozen_fields:
                if name in self.fields:
                    self.fields[name].disabled = True


class SectionForm(FrozenCodeForm):
    frozen_fields = ("link_id",)


class OptionForm(FrozenCodeForm):
    frozen_fields = ("code",)


class ItemForm(FrozenCodeForm):
    frozen_fields = ("link_id",)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        section = cleaned.get("section")
        questionnaire_id = getattr(cleaned.get("questionnaire"), "pk", None) or self.instance.questionnaire_id
        if section is not None and questionnaire_id and section.questionnaire_id != questionnaire_id:
            self.add_error("section", _("Choose a section of this questionnaire."))
        return cleaned


SMALL_TEXT = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 32})}}
# New rows are numbered 10, 20, 30...: a row moves by typing a number between two others (15).
ORDER_STEP = 10
SECTIONS_PREFIX = "sections"


# --- questionnaire designer: sections and items on one page, in one pass ------------------------


class PositionedFormSet(LabelledRowsFormSet, BaseInlineFormSet):
    """Rows ordered by position: new rows are offered the next orders (10, 20, 30 after the last),
    a row left without an order goes after the others, and a new row left without a code gets one
    (q1, q2... for items, p1, p2... for sections), so adding a row needs only what it says."""

    code_field = "link_id"
    code_prefix = "q"

    def _top_order(self) -> int:
        if not hasattr(self, "_top"):
            self._top = max((row.order for row in self.get_queryset()), default=0)
        return self._top

    def get_form_kwargs(self, index: int | None) -> dict:
        kwargs = super().get_form_kwargs(index)
        if index is not None and index >= self.initial_form_count():
            start = (self._top_order() // ORDER_STEP + 1) * ORDER_STEP
            kwargs["initial"] = {"order": start + ORDER_STEP * (index - self.initial_form_count())}
        return kwargs

    def kept_forms(self) -> list[Any]:
        return [
            form
            for form in self.forms
            if not form.errors
            and hasattr(form, "cleaned_data")
            and (form.instance.pk or form.has_changed())
            and not form.cleaned_data.get("DELETE")
        ]

    def clean(self) -> None:
        super().clean()
        kept = self.kept_forms()
        top = max([self._top_order()] + [f.cleaned_data["order"] for f in kept if f.cleaned_data.get("order")])
        taken = set(self.get_queryset().values_list(self.code_field, flat=True))
        taken |= {f.cleaned_data.get(self.code_field) for f in kept if f.cleaned_data.get(self.code_field)}
        number = 0
        for form in kept:
            if form.cleaned_data.get("order") is None:
                top += ORDER_STEP
                form.instance.order = top
            if not form.instance.pk and not form.cleaned_data.get(self.code_field):
                number += 1
                while f"{self.code_prefix}{number}" in taken:
                    number += 1
                setattr(form.instance, self.code_field, f"{self.code_prefix}{number}")
                taken.add(f"{self.code_prefix}{number}")


class SectionFormSet(PositionedFormSet):
    code_prefix = "p"


class SectionRowForm(SectionForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["order"].required = False
        if not self.instance.pk:
            self.fields["link_id"].required = False
            self.fields["link_id"].help_text = _("blank: p1, p2...")


class ItemRowForm(ItemForm):
    """An item row of the questionnaire page: its section by code (sections added on the same page
    count), and a display condition chosen among the answers of the items saved so far."""

    section_code = forms.CharField(
        label=_("section"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"list": "section-codes", "size": 6}),
        help_text=_("code of a section above; blank: the last one"),
    )
    show_when = forms.ChoiceField(label=_("shown only when"), required=False)
    # Set per request (ItemInline.get_formset): the questions saved so far, the sections' codes.
    questions: dict = {}
    section_codes: frozenset[str] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["order"].required = False
        if not self.instance.pk:
            self.fields["link_id"].required = False
            self.fields["link_id"].help_text = _("blank: q1, q2...")
        if self.instance.pk and self.instance.section_id:
            self.initial["section_code"] = self.instance.section.link_id
        choices = [("", "—")] + answer_choices(self.questions, exclude=self.instance.link_id or "")
        conditions = list(self.instance.conditions.all()) if self.instance.pk else []
        field = self.fields["show_when"]
        cast(forms.ChoiceField, field).choices = choices
        if len(conditions) == 1 and conditions[0].operator == "=":
            chosen = f"{conditions[0].question}={conditions[0].answer}"
            if chosen in dict(choices):
                self.initial["show_when"] = chosen
                return
        if conditions:
            # Richer conditions are edited on the item's page; this row only says so.
            cast(forms.ChoiceField, field).choices = [
                ("", _("%(count)s condition(s): on the item's page") % {"count": len(conditions)})
            ]
            field.disabled = True

    def posted_section_codes(self) -> set[str]:
        codes = set()
        for key, value in self.data.items():
            if key.startswith(f"{SECTIONS_PREFIX}-") and key.endswith("-link_id") and value:
                if not self.data.get(key.replace("-link_id", "-DELETE")):
                    codes.add(value.strip())
        return codes

    def clean_section_code(self) -> str:
        code = self.cleaned_data.get("section_code", "").strip()
        if code and code not in self.section_codes and code not in self.posted_section_codes():
            raise forms.ValidationError(
                _("There is no section %(code)s: add it under Sections, or leave blank."), params={"code": code}
            )
        return code


MOVE_FIELD = "_move"  # the submit button of an item row: "<item pk>:up" or "<item pk>:down"


def item_move(item: Item, step: int) -> bool:
    """Move `item` one place up (step -1) or down (+1) among the items of its section, as the page shows
    them (order, then id); False when it is already first or last. The section's orders are written
    10, 20, 30… so that equal orders (old rows all at 0) move too."""
    siblings = list(Item.objects.filter(questionnaire=item.questionnaire, section=item.section).order_by("order", "id"))
    index = next(i for i, row in enumerate(siblings) if row.pk == item.pk)
    target = index + step
    if not 0 <= target < len(siblings):
        return False
    siblings[index], siblings[target] = siblings[target], siblings[index]
    for position, row in enumerate(siblings, start=1):
        if row.order != position * 10:
            row.order = position * 10
            row.save(update_fields=["order"])
    return True


class SectionInline(StudyScopedInline, admin.TabularInline):
    model = Section
    form = SectionRowForm
    formset = SectionFormSet
    fields = ("order", "link_id", "title_fr", "title_en")
    ordering = ("order", "id")
    extra = 1


class ItemInline(StudyScopedInline, admin.TabularInline):
    model = Item
    form = ItemRowForm
    formset = PositionedFormSet
    fields = (
        "order",
        "move",
        "section_code",
        "link_id",
        "type",
        "text_fr",
        "text_en",
        "required",
        "show_when",
        "edit_link",
    )
    readonly_fields = ("move", "edit_link")
    ordering = ("order", "id")
    formfield_overrides = SMALL_TEXT

    def get_fields(self, request: HttpRequest, obj: Questionnaire | None = None):
        fields = super().get_fields(request, obj)
        # The move buttons save the page: only for those who may change it.
        return fields if self.has_change_permission(request, obj) else [f for f in fields if f != "move"]

    def get_extra(self, request: HttpRequest, obj: Questionnaire | None = None, **kwargs: Any) -> int:
        # Three blank rows for a new questionnaire, one more row each time after.
        return 3 if obj is None or not obj.items.exists() else 1

    def get_formset(self, request: HttpRequest, obj: Questionnaire | None = None, **kwargs: Any):
        formset = super().get_formset(request, obj, **kwargs)
        questions = questions_of(fhir.definition_from_draft(obj)) if obj is not None else {}
        codes = frozenset(obj.sections.values_list("link_id", flat=True)) if obj is not None else frozenset()
        # The form class is built per request, so these attributes are this request's.
        formset.form = type(formset.form.__name__, (formset.form,), {"questions": questions, "section_codes": codes})
        return formset

    @admin.display(description=_("move"))
    def move(self, obj: Item) -> str:
        # Buttons of the page's own form: the rows typed so far are saved, then the item moves (no script).
        if obj.pk is None:
            return ""
        return format_html(
            '<button type="submit" name="{}" value="{}:up" aria-label="{}">↑</button> '
            '<button type="submit" name="{}" value="{}:down" aria-label="{}">↓</button>',
            MOVE_FIELD,
            obj.pk,
            _("Move %(code)s up") % {"code": obj.link_id},
            MOVE_FIELD,
            obj.pk,
            _("Move %(code)s down") % {"code": obj.link_id},
        )

    @admin.display(description=_("options & conditions"))
    def edit_link(self, obj: Item) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("admin:surveys_item_change", args=[obj.pk])
        if obj.has_options:
            label = str(_("%(count)s options, conditions") % {"count": obj.options.count()})
        else:
            label = str(_("conditions, help, limits"))
        return format_html('<a href="{}">{}</a>', url, label)


@admin.register(Questionnaire)
class QuestionnaireAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    change_form_template = "admin/surveys/questionnaire/change_form.html"
    change_list_template = "admin/surveys/questionnaire/change_list.html"
    list_display = ("code", "title_fr", "study", "kind", "latest_version")
    list_filter = (("study", RelatedOnlyFieldListFilter), "kind")
    search_fields = ("code", "title_fr", "title_en")
    form = QuestionnaireForm
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "study",
                    "code",
                    "kind",
                    "title_fr",
                    "title_en",
                    "intro_fr",
                    "intro_en",
                    "one_item_per_page",
                    "source_format",
                )
            },
        ),
        (_("Scores and alerts"), {"fields": ("rules", "safety_message_fr", "safety_message_en")}),
        (_("Library instrument and licence"), {"fields": ("instrument", "licence_reference")}),
    )
    inlines = [SectionInline, ItemInline]
    actions = ["publish_selected"]
    save_on_top = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(latest_number=Max("versions__number"))

    def get_form(self, request: HttpRequest, obj: Questionnaire | None = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        # The scores-and-alerts editor, or the JSON box when asked (?rules=json) or when it cannot hold them.
        return type(form.__name__, (form,), {"rules_as_json": request.GET.get("rules") == "json"})

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        if "study" not in initial:
            studies = list(imports.design_studies(request.user)[:2])
            if len(studies) == 1:
                # A designer of one study does not have to choose it.
                initial["study"] = studies[0].pk
        return initial

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        if formset.model is not Item:
            return super().save_formset(request, form, formset, change)
        # Sections are saved first (inline order): an item may name one added on the same page.
        sections = {s.link_id: s for s in form.instance.sections.all()}
        last = max(sections.values(), key=lambda s: (s.order, s.pk), default=None)
        for row in formset.kept_forms():
            low_high = SCALE_DEFAULT_RANGE.get(row.instance.type)
            if not row.instance.pk and low_high and row.instance.min_value is None and row.instance.max_value is None:
                # A new "scale 0–10" (or 0–100) row is that scale: its bounds are written, not asked.
                row.instance.min_value, row.instance.max_value = low_high
            if not row.instance.pk or "section_code" in row.changed_data:
                code = row.cleaned_data.get("section_code")
                row.instance.section = sections.get(code) if code else (last if not row.instance.pk else None)
        super().save_formset(request, form, formset, change)
        for row in formset.kept_forms():
            if "show_when" in row.changed_data and row.instance.pk:
                self._show_when_save(row.instance, row.cleaned_data.get("show_when") or "")

    def response_change(self, request: HttpRequest, obj: Questionnaire) -> HttpResponse:
        pk, _sep, direction = request.POST.get(MOVE_FIELD, "").partition(":")
        if not pk.isdigit() or direction not in ("up", "down"):
            return super().response_change(request, obj)
        item = obj.items.filter(pk=int(pk)).first()
        if item is None or not item_move(item, -1 if direction == "up" else 1):
            messages.info(request, _("That item is already at that end of its section."))
        return HttpResponseRedirect(request.get_full_path())

    @staticmethod
    def _show_when_save(item: Item, chosen: str) -> None:
        """The item's one condition, as chosen in its row ("linkId=code"), or none."""
        for condition in item.conditions.all():
            condition.delete()
        if chosen:
            question, _sep, answer = chosen.partition("=")
            EnableCondition.objects.create(item=item, question=question, operator="=", answer=answer)

    def get_readonly_fields(self, request: HttpRequest, obj: Questionnaire | None = None) -> tuple[str, ...]:
        # Versions and timepoints hang on the questionnaire: it never changes study.
        if obj is not None and obj.source_definition:
            # An imported draft's title and introduction are those of its kept definition.
            return ("study", "source_format", "imported_items", "title_fr", "title_en")
        return ("study", "source_format", "imported_items") if obj is not None else ("source_format",)

    # -- imported drafts: the kept definition is the content, rows do not apply (surveys/admin/imports.py) --

    def get_fieldsets(self, request: HttpRequest, obj: Questionnaire | None = None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.source_definition:
            (name, main), *rest = fieldsets
            fields = [f for f in main["fields"] if f not in ("intro_fr", "intro_en")]
            fieldsets = [(name, {**main, "fields": fields}), (_("Items"), {"fields": ("imported_items",)}), *rest]
        return fieldsets

    def get_inlines(self, request: HttpRequest, obj: Questionnaire | None = None):
        return [] if obj is not None and obj.source_definition else super().get_inlines(request, obj)

    @admin.display(description=_("items"))
    def imported_items(self, obj: Questionnaire) -> str:
        if not obj.source_definition:
            return "—"
        return format_html(
            '<p class="help">{}</p><p><a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a></p>',
            _(
                "Imported (%(format)s): the items come from the imported definition, kept whole, not from editable "
                "rows. Preview it as patients will see it; to edit the items, copy them into editable rows."
            )
            % {"format": obj.source_format or "?"},
            reverse("admin:surveys_questionnaire_preview", args=[obj.pk]),
            _("Preview as patient"),
            reverse("admin:surveys_questionnaire_copy_into_rows", args=[obj.pk]),
            _("Copy into editable rows"),
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        context = {
            "can_import_questionnaires": imports.design_studies(request.user).exists(),
            "can_import_responses": imports.response_import_studies(request.user).exists(),
            **(extra_context or {}),
        }
        if context["can_import_questionnaires"]:
            context.setdefault("library_url", imports.library_url())
        return super().changelist_view(request, extra_context=context)

    @admin.display(description=_("latest version"), ordering="latest_number")
    def latest_version(self, obj: Questionnaire) -> str:
        return f"v{obj.latest_number}" if obj.latest_number else "—"

    # -- custom views --

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        custom = [
            path("<int:pk>/preview/", view(self.preview_view), name="surveys_questionnaire_preview"),
            # The one page of the site that may be framed, and only by the preview page (same origin).
            path(
                "<int:pk>/preview/frame/",
                view(xframe_options_sameorigin(self.preview_frame_view)),
                name="surveys_questionnaire_preview_frame",
            ),
            path("<int:pk>/publish/", view(self.publish_view), name="surveys_questionnaire_publish"),
            path(
                "<int:pk>/publish/override/",
                view(lambda request, pk: review.publish_override_view(self, request, pk)),
                name="surveys_questionnaire_publish_override",
            ),
            path(
                "<int:pk>/versions/<int:version_id>/copy-into-draft/",
                view(self.copy_into_draft_view),
                name="surveys_questionnaire_copy_into_draft",
            ),
        ]
        # Import pages, and "copy into editable rows" for imported drafts (surveys/admin/imports.py).
        return custom + imports.questionnaire_admin_urls(self) + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        questionnaire = self.get_object(request, unquote(object_id))
        can_preview = self.has_view_permission(request, questionnaire)
        language = questionnaire.study.fallback_language
        context = {
            "can_preview": can_preview,
            "can_publish": self.has_change_permission(request, questionnaire),
            "can_schedule": request.user.has_perm("surveys.add_timepoint", questionnaire.study),
            "published_versions": [
                (version, self._schedule_url(questionnaire, version))
                for version in questionnaire.versions.select_related("published_by")
            ],
            # Side by side with the form, reloaded with the page after each save.
            "preview_frame_url": reverse("admin:surveys_questionnaire_preview_frame", args=[questionnaire.pk])
            + "?"
            + urlencode({"lang": language, "page": "1"})
            if can_preview and not questionnaire.source_definition
            else "",
            "section_codes": list(questionnaire.sections.values_list("link_id", flat=True)),
            "rules_as_json_url": "?rules=json",
            **review.questionnaire_review_context(request, questionnaire),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _visible_questionnaire(self, request: HttpRequest, pk: int, action: str) -> Questionnaire:
        questionnaire = get_object_or_404(
            Questionnaire.objects.select_related("study").filter(study__in=studies_for_user(user=request.user)), pk=pk
        )
        if not request.user.has_perm(f"surveys.{action}_questionnaire", questionnaire):
            raise PermissionDenied
        return questionnaire

    def _change_url(self, questionnaire: Questionnaire) -> str:
        return reverse("admin:surveys_questionnaire_change", args=[questionnaire.pk])

    @staticmethod
    def _preview_language(request: HttpRequest, questionnaire: Questionnaire) -> str:
        languages = list(questionnaire.study.languages)
        asked = request.GET.get("lang", "")
        return asked if asked in languages else questionnaire.study.fallback_language

    @staticmethod
    def _preview_page(request: HttpRequest) -> int:
        try:
            return max(int(request.GET.get("page", "1")), 1)
        except ValueError:
            return 1

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        questionnaire = self._visible_questionnaire(request, pk, "view")
        language = self._preview_language(request, questionnaire)
        page_count = max(len(build_pages(fhir.definition_from_draft(questionnaire), language)), 1)
        page = min(self._preview_page(request), page_count)
        names = dict(settings.LANGUAGES)

        def here(lang: str, number: int) -> str:
            return "?" + urlencode({"lang": lang, "page": number})

        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": questionnaire,
            "title": _("Preview of %(questionnaire)s") % {"questionnaire": questionnaire},
            "language": language,
            "languages": [(code, names.get(code, code), here(code, page)) for code in questionnaire.study.languages],
            "page": page,
            "page_count": page_count,
            "previous_url": here(language, page - 1) if page > 1 else "",
            "next_url": here(language, page + 1) if page < page_count else "",
            "frame_url": reverse("admin:surveys_questionnaire_preview_frame", args=[questionnaire.pk])
            + here(language, page),
        }
        return TemplateResponse(request, "admin/surveys/questionnaire/preview.html", context)

    def preview_frame_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        questionnaire = self._visible_questionnaire(request, pk, "view")
        return render_preview(
            request,
            definition=fhir.definition_from_draft(questionnaire),
            language=self._preview_language(request, questionnaire),
            page=self._preview_page(request),
        )

    @staticmethod
    def _schedule_url(questionnaire: Questionnaire, version: QuestionnaireVersion) -> str:
        """The timepoint add page, filled in for this version."""
        title = questionnaire.title_fr or questionnaire.title_en or questionnaire.code
        return (
            reverse("admin:surveys_timepoint_add")
            + "?"
            + urlencode(
                {
                    "study": str(questionnaire.study_id),
                    "version": str(version.pk),
                    "code": questionnaire.code,
                    "label": title,
                }
            )
        )

    @staticmethod
    def publish_preview(questionnaire: Questionnaire) -> dict[str, Any]:
        """What publishing now would change since the latest version, and the content's hash."""
        draft = fhir.definition_from_draft(questionnaire)
        latest = questionnaire.versions.order_by("-number").first()
        changes = definition_changes(latest.definition if latest else None, draft)
        digest = fhir.content_hash(draft)
        return {
            # Said before anyone confirms: content problems stop publishing; a missing sign-off is told too.
            "problems": content_problems(draft, languages=list(questionnaire.study.languages)),
            "signoff_problems": rounds.signoff_problems(questionnaire=questionnaire, content_hash=digest),
            "questionnaire": questionnaire,
            "latest": latest,
            "changes": changes,
            "groups": [(KIND_LABELS[kind], rows) for kind, rows in changes_by_kind(changes).items()],
            "content_hash": digest,
            "unchanged": latest is not None and latest.content_hash == digest,
        }

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: what would change, and a button to confirm; POST from that page: publish.

        The page carries the content hash it showed: a draft changed meanwhile is shown again, not published."""
        questionnaire = self._visible_questionnaire(request, pk, "change")
        preview = self.publish_preview(questionnaire)
        if request.method == "POST":
            if request.POST.get("content_hash") == preview["content_hash"]:
                version = self._publish(request, questionnaire)
                if version is not None and "_schedule" in request.POST:
                    if request.user.has_perm("surveys.add_timepoint", questionnaire.study):
                        return HttpResponseRedirect(self._schedule_url(questionnaire, version))
                return HttpResponseRedirect(self._change_url(questionnaire))
            self.message_user(
                request, _("The draft changed since the changes were shown: check them again."), messages.WARNING
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": questionnaire,
            "title": _("Publish %(questionnaire)s?") % {"questionnaire": questionnaire},
            "can_schedule": request.user.has_perm("surveys.add_timepoint", questionnaire.study),
            **preview,
        }
        return TemplateResponse(request, "admin/surveys/questionnaire/publish_confirm.html", context)

    def _publish(
        self, request: HttpRequest, questionnaire: Questionnaire, *, name_it: bool = False
    ) -> QuestionnaireVersion | None:
        """Publish through the service and say what happened; nothing is written on problems."""
        prefix = f"{questionnaire} — " if name_it else ""
        known = set(questionnaire.versions.values_list("pk", flat=True))
        try:
            version = questionnaire_publish(questionnaire=questionnaire, by=request.user)
        except PublishError as error:
            for problem in error.problems:
                self.message_user(request, f"{prefix}{problem.where}: {problem.message}", messages.ERROR)
            return None
        if version.pk in known:
            self.message_user(
                request,
                prefix
                + _("Nothing changed since version %(number)s: no new version was published.")
                % {"number": version.number},
                messages.INFO,
            )
        else:
            self.message_user(
                request, prefix + _("Published version %(number)s.") % {"number": version.number}, messages.SUCCESS
            )
        return version

    @admin.action(description=_("Publish selected questionnaires"), permissions=["change"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Questionnaire]) -> HttpResponse | None:
        """First a page of what each would change; publishing only once that page is confirmed."""
        allowed = []
        for questionnaire in queryset.select_related("study"):
            if not request.user.has_perm("surveys.change_questionnaire", questionnaire):
                self.message_user(
                    request,
                    _("%(questionnaire)s: you may not publish it.") % {"questionnaire": questionnaire},
                    messages.ERROR,
                )
                continue
            allowed.append(questionnaire)
        previews = [self.publish_preview(questionnaire) for questionnaire in allowed]
        if request.POST.get("post") != "yes":
            if not previews:
                return None
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Publish these questionnaires?"),
                "previews": previews,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/surveys/questionnaire/publish_selected_confirm.html", context)
        for preview in previews:
            questionnaire = preview["questionnaire"]
            if request.POST.get(f"content_hash_{questionnaire.pk}") != preview["content_hash"]:
                self.message_user(
                    request,
                    _("%(questionnaire)s changed since its changes were shown: not published.")
                    % {"questionnaire": questionnaire},
                    messages.WARNING,
                )
                continue
            self._publish(request, questionnaire, name_it=True)
        return None

    def copy_into_draft_view(self, request: HttpRequest, pk: int, version_id: int) -> HttpResponse:
        questionnaire = self._visible_questionnaire(request, pk, "change")
        version = get_object_or_404(QuestionnaireVersion, pk=version_id, questionnaire=questionnaire)
        if request.method == "POST":
            questionnaire_draft_from_version(version=version, by=request.user)
            self.message_user(
                request,
                _("The draft now holds the content of version %(number)s.") % {"number": version.number},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(self._change_url(questionnaire))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": questionnaire,
            "version": version,
            "title": _("Copy version %(number)s into the draft?") % {"number": version.number},
        }
        return TemplateResponse(request, "admin/surveys/questionnaire/copy_into_draft.html", context)


@admin.register(Section)
class SectionAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    study_path = "questionnaire__study"
    form = SectionForm
    list_display = ("link_id", "title_fr", "questionnaire", "order")
    list_filter = (("questionnaire", RelatedOnlyFieldListFilter),)
    search_fields = ("link_id", "title_fr", "title_en")

    def get_readonly_fields(self, request: HttpRequest, obj: Section | None = None) -> tuple[str, ...]:
        return ("questionnaire", "link_id") if obj is not None else ()


class OptionFormSet(PositionedFormSet):
    code_field = "code"
    code_prefix = ""


class OptionRowForm(OptionForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["order"].required = False


class AnswerOptionInline(StudyScopedInline, admin.TabularInline):
    model = AnswerOption
    form = OptionRowForm
    formset = OptionFormSet
    fields = ("code", "label_fr", "label_en", "score", "order")
    ordering = ("order", "id")
    extra = 2


class EnableConditionInline(StudyScopedInline, admin.TabularInline):
    model = EnableCondition
    form = ConditionForm
    fields = ("option", "question", "operator", "answer")
    extra = 1

    def get_formset(self, request: HttpRequest, obj: Item | None = None, **kwargs: Any):
        formset = super().get_formset(request, obj, **kwargs)
        questions = questions_of(fhir.definition_from_draft(obj.questionnaire)) if obj is not None else {}
        attributes = {"questions": questions, "own_link_id": obj.link_id if obj is not None else ""}
        formset.form = type(formset.form.__name__, (formset.form,), attributes)
        return formset


@admin.register(Item)
class ItemAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    study_path = "questionnaire__study"
    form = ItemForm
    list_display = ("link_id", "questionnaire", "section", "type", "order", "required")
    list_filter = (("questionnaire", RelatedOnlyFieldListFilter), "type")
    search_fields = ("link_id", "text_fr", "text_en")
    fieldsets = (
        (None, {"fields": ("questionnaire", "section", "order", "link_id", "type", "required")}),
        (_("Texts"), {"fields": ("text_fr", "text_en", "help_fr", "help_en")}),
        (_("Answer limits"), {"fields": ("min_value", "max_value", "max_length")}),
        (_("Display conditions"), {"fields": ("enable_behavior",)}),
    )
    inlines = [AnswerOptionInline, EnableConditionInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Item | None = None) -> tuple[str, ...]:
        return ("questionnaire", "link_id") if obj is not None else ()

    def get_inlines(self, request: HttpRequest, obj: Item | None = None):
        # Options belong to choices only; conditions compare the answers of an item of the same questionnaire.
        if obj is None:
            return [AnswerOptionInline]
        return [AnswerOptionInline, EnableConditionInline] if obj.has_options else [EnableConditionInline]

    def get_form(self, request: HttpRequest, obj: Item | None = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        section = form.base_fields.get("section")
        if section is not None and obj is not None:
            section.queryset = obj.questionnaire.sections.all()
        return form


@admin.register(AnswerOption)
class AnswerOptionAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    study_path = "item__questionnaire__study"
    form = OptionForm
    list_display = ("code", "label_fr", "item", "score", "order")
    search_fields = ("code", "label_fr", "label_en", "item__link_id")

    def get_readonly_fields(self, request: HttpRequest, obj: AnswerOption | None = None) -> tuple[str, ...]:
        return ("item", "code") if obj is not None else ()


@admin.register(EnableCondition)
class EnableConditionAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    study_path = "item__questionnaire__study"
    list_display = ("item", "question", "operator", "answer")
    search_fields = ("item__link_id", "question")


@admin.register(QuestionnaireVersion)
class QuestionnaireVersionAdmin(StudyScopedAdmin, admin.ModelAdmin):
    study_path = "questionnaire__study"
    # Published versions are frozen (the model refuses too); they come from questionnaire_publish.
    denied_actions = READ_ONLY
    list_display = ("questionnaire", "number", "published_at", "published_by", "short_hash")
    list_filter = (("questionnaire__study", RelatedOnlyFieldListFilter),)
    list_select_related = ("questionnaire__study", "published_by")
    fields = (
        "questionnaire",
        "number",
        "published_at",
        "published_by",
        "content_hash",
        "approved_round",
        "override",
        "score_recomputations",
        "exports",
        "definition_json",
    )
    readonly_fields = fields
    actions = ["recompute_scores"]

    @admin.display(description=_("content hash"))
    def short_hash(self, obj: QuestionnaireVersion) -> str:
        return obj.content_hash[:12]

    @admin.display(description=_("definition (FHIR Questionnaire)"))
    def definition_json(self, obj: QuestionnaireVersion) -> str:
        return pretty_json(obj.definition)

    # -- exports of the version (surveys.interop.imports.EXPORTS: FHIR, REDCap...) --

    @admin.display(description=_("export"))
    def exports(self, obj: QuestionnaireVersion) -> str:
        return format_html_join(
            " ",
            '<a class="button" href="{}" download>{}</a>',
            (
                (reverse("admin:surveys_questionnaireversion_export", args=[obj.pk, key]), label)
                for key, (label, *_rest) in EXPORTS.items()
            ),
        )

    def get_urls(self) -> list:
        export = path(
            "<int:pk>/export/<str:format_>/",
            self.admin_site.admin_view(self.export_view),
            name="surveys_questionnaireversion_export",
        )
        return [export, *super().get_urls()]

    def export_view(self, request: HttpRequest, pk: int, format_: str) -> HttpResponse:
        version = get_object_or_404(self.get_queryset(request).select_related("questionnaire__study"), pk=pk)
        if format_ not in EXPORTS or not self.has_view_permission(request, version):
            raise Http404
        _label, _path, media_type, extension = EXPORTS[format_]
        response = HttpResponse(exporter(format_)(version), content_type=f"{media_type}; charset=utf-8")
        name = f"{version.questionnaire.study.code}-{version.questionnaire.code}-v{version.number}.{extension}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    # -- score recomputation (surveys.scoring.compute.scores_recompute), audited by ScoreRecomputation rows --

    def has_recompute_permission(self, request: HttpRequest) -> bool:
        # Whoever may change a questionnaire may recompute its versions' scores (checked per study below).
        return request.user.has_perm("surveys.change_questionnaire")

    @admin.action(description=_("Recompute scores"), permissions=["recompute"])
    def recompute_scores(self, request: HttpRequest, queryset: QuerySet[QuestionnaireVersion]) -> None:
        for version in queryset.select_related("questionnaire__study"):
            if not request.user.has_perm("surveys.change_questionnaire", version.questionnaire):
                self.message_user(
                    request, _("%(version)s: you may not recompute its scores.") % {"version": version}, messages.ERROR
                )
                continue
            audit = compute.scores_recompute(version=version, by=request.user, reason=str(_("admin action")))
            self.message_user(
                request,
                _("%(version)s: scores of %(responses)s completed response(s) recomputed, %(changed)s changed.")
                % {"version": version, "responses": audit.responses, "changed": audit.changed},
                messages.SUCCESS,
            )

    @admin.display(description=_("score recomputations"))
    def score_recomputations(self, obj: QuestionnaireVersion) -> str:
        rows = obj.recomputations.select_related("by")[:20]
        if not rows:
            return "—"
        return format_html_join(
            "",
            "<div>{} — {} — {}: {} / {} ({})</div>",
            (
                (
                    f"{r.at:%Y-%m-%d %H:%M}",
                    r.by or "—",
                    r.reason or "—",
                    r.changed,
                    r.responses,
                    _("changed / recomputed"),
                )
                for r in rows
            ),
        )
