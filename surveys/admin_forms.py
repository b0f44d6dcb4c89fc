"""Questionnaire draft form: checks the scoring and alert rules as they are typed (owner: helper "score")."""

from __future__ import annotations

from django import forms

from .models import Questionnaire


class QuestionnaireForm(forms.ModelForm):
    class Meta:
        model = Questionnaire
        fields = ("study", "code", "kind", "title_fr", "title_en", "intro_fr", "intro_en", "one_item_per_page",
                  "rules", "safety_message_fr", "safety_message_en", "instrument", "licence_reference")
