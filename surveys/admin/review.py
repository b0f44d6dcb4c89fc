"""Review rounds in the admin: open a round on a draft, read the consolidated feedback, answer it, sign-off.

Thin views over surveys.review.rounds. Reviewers appear by kind and number ("Expert patient 2"), never by name
or e-mail (see surveys/review/rounds.py). Rounds, feedback, submissions and overrides are never deleted here:
they are the record of what was reviewed and why a version was published.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.admin.base import ReadOnlyAdmin, StudyScopedAdmin
from surveys.admin.history import AuditedHistoryAdmin
from surveys.models import ItemFeedback, Panel, PublishOverride, Questionnaire, ReviewRound, ReviewSubmission
from surveys.questionnaires.publish import PublishError, questionnaire_publish
from surveys.review.facts import review_facts
from surveys.review.rounds import OVERRIDE_PERM, ReviewError, feedback_handle, round_close, round_open, round_summary
from surveys.staff.selectors import studies_for_user


class RoundOpenForm(forms.ModelForm):
    class Meta:
        model = ReviewRound
        fields = ("questionnaire", "panel", "title", "instructions", "deadline", "includes_notice", "includes_schedule")

    def clean(self) -> dict:
        data = super().clean()
        questionnaire, panel, deadline = data.get("questionnaire"), data.get("panel"), data.get("deadline")
        if questionnaire and panel and panel.study_id not in (None, questionnaire.study_id):
            self.add_error("panel", _("This panel belongs to another study."))
        if deadline and deadline <= timezone.now():
            self.add_error("deadline", _("The deadline must be in the future."))
        return data


@admin.register(ReviewRound)
class ReviewRoundAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    study_path = "questionnaire__study"
    change_form_template = "admin/surveys/review/round_change_form.html"
    list_display = ("__str__", "questionnaire", "panel", "opened_at", "deadline", "state", "short_hash")
    list_filter = ("questionnaire__study",)
    list_select_related = ("questionnaire__study", "panel")
    search_fields = ("title", "questionnaire__code")

    def get_form(self, request: HttpRequest, obj: ReviewRound | None = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = RoundOpenForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ReviewRound | None = None):
        if obj is None:
            return list(RoundOpenForm.Meta.fields)
        return [
            "questionnaire",
            "panel",
            "title",
            "instructions",
            "deadline",
            "includes_notice",
            "includes_schedule",
            "opened_by",
            "opened_at",
            "closed_at",
            "content_hash",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: ReviewRound | None = None):
        if obj is None:
            return []
        # What was asked is frozen; the wording to reviewers and the deadline may still change.
        return [
            "questionnaire",
            "panel",
            "includes_notice",
            "includes_schedule",
            "opened_by",
            "opened_at",
            "closed_at",
            "content_hash",
        ]

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "panel" and field is not None:
            # The study's own panels and the site-wide ones (a round's panel need not be the designer's to edit).
            panels = Panel.objects.all()
            if not request.user.is_superuser:
                studies = studies_for_user(user=request.user, roles=self.roles_granting("add"))
                panels = panels.filter(Q(study__in=studies) | Q(study__isnull=True))
            field.queryset = panels.select_related("study")
        return field

    def save_model(self, request: HttpRequest, obj: ReviewRound, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        try:
            created = round_open(
                questionnaire=data["questionnaire"],
                panel=data["panel"],
                deadline=data["deadline"],
                by=request.user,
                title=data.get("title", ""),
                instructions=data.get("instructions", ""),
                includes_notice=data.get("includes_notice", False),
                includes_schedule=data.get("includes_schedule", False),
            )
        except ReviewError as error:  # checked by the form already; a race (deadline passing) lands here
            raise PermissionDenied(error.message) from error
        obj.__dict__.update(created.__dict__)

    @admin.display(description=_("state"))
    def state(self, obj: ReviewRound) -> str:
        return _("closed") if obj.closed_at else _("open")

    @admin.display(description=_("content hash"))
    def short_hash(self, obj: ReviewRound) -> str:
        return obj.content_hash[:12]

    # -- consolidated feedback, closing, answering --

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/close/", view(self.close_view), name="surveys_reviewround_close"),
            path("<int:pk>/feedback/<int:feedback_id>/", view(self.feedback_view), name="surveys_reviewround_feedback"),
        ] + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        round_ = self.get_object(request, object_id)
        context = {
            "summary": round_summary(round_),
            "can_close": round_.closed_at is None and self.has_change_permission(request, round_),
            "can_answer": request.user.has_perm("surveys.change_itemfeedback", round_),
            "statuses": ItemFeedback.Status.choices,
            "timing_labels": dict(ReviewSubmission.Timing.choices),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _round(self, request: HttpRequest, pk: int) -> ReviewRound:
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def _back(self, round_: ReviewRound, anchor: str = "") -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:surveys_reviewround_change", args=[round_.pk]) + anchor)

    def close_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        round_ = self._round(request, pk)
        if not self.has_change_permission(request, round_):
            raise PermissionDenied
        round_close(round_=round_, by=request.user)
        self.message_user(request, _("The round is closed."), messages.SUCCESS)
        return self._back(round_)

    def feedback_view(self, request: HttpRequest, pk: int, feedback_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        round_ = self._round(request, pk)
        feedback = get_object_or_404(ItemFeedback, pk=feedback_id, round=round_)
        if not request.user.has_perm("surveys.change_itemfeedback", feedback):
            raise PermissionDenied
        try:
            feedback_handle(
                feedback=feedback,
                by=request.user,
                reply=request.POST.get("reply", ""),
                status=request.POST.get("status", ""),
                reason=request.POST.get("reason", ""),
            )
        except ReviewError as error:
            self.message_user(request, f"{feedback.link_id}: {error.message}", messages.ERROR)
        else:
            self.message_user(
                request, _("%(item)s: your answer is recorded.") % {"item": feedback.link_id}, messages.SUCCESS
            )
        return self._back(round_, f"#feedback-{feedback.pk}")


class ItemFeedbackForm(forms.ModelForm):
    class Meta:
        model = ItemFeedback
        fields = ("reply", "status", "reason")


@admin.register(ItemFeedback)
class ItemFeedbackAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    """Every comment with its state; the answer goes through feedback_handle (who and when recorded)."""

    study_path = "round__questionnaire__study"
    form = ItemFeedbackForm
    list_display = ("link_id", "round", "clarity", "relevance", "acceptability", "status", "handled_at")
    list_filter = ("status", "round__questionnaire__study")
    list_select_related = ("round__questionnaire__study",)
    fields = (
        "round",
        "link_id",
        "clarity",
        "relevance",
        "acceptability",
        "comment",
        "suggestion",
        "reply",
        "status",
        "reason",
        "handled_by",
        "handled_at",
    )
    readonly_fields = (
        "round",
        "link_id",
        "clarity",
        "relevance",
        "acceptability",
        "comment",
        "suggestion",
        "handled_by",
        "handled_at",
    )
    # The reviewer's account is not shown (see surveys/review/rounds.py); the history keeps who answered.
    history_list_display = ["status", "reply", "reason", "handled_by"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # reviewers write feedback on their own pages

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ItemFeedback, form, change: bool) -> None:
        data = form.cleaned_data
        fresh = ItemFeedback.objects.get(pk=obj.pk)
        try:
            feedback_handle(
                feedback=fresh,
                by=request.user,
                reply=data.get("reply", ""),
                status=data.get("status", ""),
                reason=data.get("reason", ""),
            )
        except ReviewError as error:
            raise PermissionDenied(error.message) from error
        obj.__dict__.update(fresh.__dict__)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        base_clean = form.clean

        def clean(self_form):
            data = base_clean(self_form)
            if data.get("status") == ItemFeedback.Status.DECLINED and not (data.get("reason") or "").strip():
                self_form.add_error("reason", _("Say why this comment is declined."))
            return data

        form.clean = clean
        return form


@admin.register(ReviewSubmission)
class ReviewSubmissionAdmin(ReadOnlyAdmin, AuditedHistoryAdmin):
    study_path = "round__questionnaire__study"
    hidden_fields = ("reviewer",)
    list_display = ("round", "burden", "timing", "approved", "submitted_at")
    list_filter = ("approved", "round__questionnaire__study")
    list_select_related = ("round__questionnaire__study",)


@admin.register(PublishOverride)
class PublishOverrideAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    study_path = "questionnaire__study"
    list_display = ("questionnaire", "at", "by", "short_hash", "reason")
    list_select_related = ("questionnaire__study", "by")

    @admin.display(description=_("content hash"))
    def short_hash(self, obj: PublishOverride) -> str:
        return obj.content_hash[:12]


# --- on the questionnaire page (called from QuestionnaireAdmin) ------------------------------------------


def questionnaire_review_context(request: HttpRequest, questionnaire: Questionnaire) -> dict:
    """Rounds of this draft, facts about it, and what the user may do: open a round, publish with an override."""
    from surveys.questionnaires import fhir

    user = request.user
    required = questionnaire.study.review_approvals_required
    rounds = list(questionnaire.review_rounds.select_related("panel"))
    return {
        "review_rounds": rounds,
        "review_required": required,
        "review_facts": review_facts(fhir.definition_from_draft(questionnaire)),
        "can_open_round": user.has_perm("surveys.add_reviewround", questionnaire),
        "open_round_url": reverse("admin:surveys_reviewround_add") + f"?questionnaire={questionnaire.pk}",
        "can_override": required > 0 and user.has_perm(OVERRIDE_PERM, questionnaire),
    }


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=True,
        help_text=_("Recorded with the version: why it is published without the review sign-off."),
    )


def publish_override_view(model_admin, request: HttpRequest, pk: int) -> HttpResponse:
    """ "Publish anyway": for users with surveys.override_publish, with a mandatory reason (audited)."""
    questionnaire = model_admin._visible_questionnaire(request, pk, "view")
    if not request.user.has_perm(OVERRIDE_PERM, questionnaire):
        raise PermissionDenied
    form = OverrideForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            version = questionnaire_publish(
                questionnaire=questionnaire, by=request.user, override_reason=form.cleaned_data["reason"]
            )
        except PublishError as error:
            for problem in error.problems:
                form.add_error(None, f"{problem.where}: {problem.message}")
        else:
            model_admin.message_user(
                request, _("Published version %(number)s.") % {"number": version.number}, messages.SUCCESS
            )
            return HttpResponseRedirect(model_admin._change_url(questionnaire))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": questionnaire,
        "form": form,
        "title": _("Publish %(questionnaire)s without the review sign-off?") % {"questionnaire": questionnaire},
        "required": questionnaire.study.review_approvals_required,
    }
    return TemplateResponse(request, "admin/surveys/review/publish_override.html", context)
