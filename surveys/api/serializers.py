"""What the API shows of each resource: pseudonyms, codes and times, never an identity.

Objects are named by their codes where they have one (study, questionnaire, timepoint, site,
pseudonym) so that a script can join tables without ids; assignments and responses have ids.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from surveys.models import Assignment, Participant, QuestionnaireVersion, Response, Site, Study, Timepoint
from surveys.rules import memberships_of


class UtcDateTimeField(serializers.DateTimeField):
    """Instants in UTC ("...Z"), whatever the server's time zone: one convention for every script."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default_timezone", dt.UTC)
        super().__init__(*args, **kwargs)


class ApiModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UtcDateTimeField,
    }


class SiteSerializer(ApiModelSerializer):
    class Meta:
        model = Site
        fields = ["code", "name"]


class TimepointSerializer(ApiModelSerializer):
    questionnaire = serializers.CharField(source="version.questionnaire.code", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)

    class Meta:
        model = Timepoint
        fields = [
            "code",
            "label",
            "order",
            "questionnaire",
            "version",
            "anchor",
            "unit",
            "offset",
            "window",
            "repeat_every",
            "repeat_count",
        ]


class StudySerializer(ApiModelSerializer):
    languages = serializers.ListField(child=serializers.CharField())
    roles = serializers.SerializerMethodField(help_text="Your roles in this study.")
    sites = SiteSerializer(
        many=True,
        read_only=True,
        source="api_sites",
        help_text="Sites you reach (only yours when your membership is limited to one).",
    )
    timepoints = TimepointSerializer(many=True, read_only=True)

    class Meta:
        model = Study
        fields = [
            "code",
            "title",
            "description",
            "status",
            "languages",
            "fallback_language",
            "time_zone",
            "created_at",
            "roles",
            "sites",
            "timepoints",
        ]

    def get_roles(self, study: Study) -> list[str]:
        user = self.context["request"].user
        return sorted({role for study_id, role, _site in memberships_of(user) if study_id == study.pk})


class VersionSerializer(ApiModelSerializer):
    questionnaire = serializers.CharField(source="questionnaire.code", read_only=True)
    kind = serializers.CharField(source="questionnaire.kind", read_only=True, help_text="PROM or PREM.")
    title = serializers.SerializerMethodField()
    language = serializers.SerializerMethodField(help_text="Base language of the texts of the definition.")

    class Meta:
        model = QuestionnaireVersion
        fields = ["questionnaire", "number", "kind", "title", "language", "content_hash", "published_at"]

    def get_title(self, version: QuestionnaireVersion) -> str:
        return str(version.definition.get("title") or "")

    def get_language(self, version: QuestionnaireVersion) -> str:
        return str(version.definition.get("language") or "")


class VersionDetailSerializer(VersionSerializer):
    definition = serializers.JSONField(
        read_only=True, help_text="The frozen definition: a FHIR R4 Questionnaire with our extensions."
    )

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "definition"]


class ParticipantSerializer(ApiModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Participant
        fields = ["pseudonym", "site", "status", "language", "consented_at", "withdrawn_at", "created_at"]
        extra_kwargs = {"created_at": {"help_text": "When the participant was enrolled."}}


class AssignmentSerializer(ApiModelSerializer):
    participant = serializers.CharField(source="participant.pseudonym", read_only=True)
    site = serializers.CharField(source="participant.site.code", read_only=True, allow_null=True, default=None)
    timepoint = serializers.CharField(source="timepoint.code", read_only=True)
    questionnaire = serializers.CharField(source="timepoint.version.questionnaire.code", read_only=True)
    version = serializers.IntegerField(
        source="timepoint.version.number",
        read_only=True,
        help_text="Version planned by the timepoint (a response says which it answered).",
    )
    response = serializers.SerializerMethodField(help_text="Id of the response, once the patient started it.")

    class Meta:
        model = Assignment
        fields = [
            "id",
            "participant",
            "site",
            "timepoint",
            "occurrence",
            "questionnaire",
            "version",
            "due_at",
            "expires_at",
            "status",
            "response",
        ]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_response(self, assignment: Assignment) -> int | None:
        # Read through the joined row (select_related): no query per assignment.
        try:
            return assignment.response.pk
        except Response.DoesNotExist:
            return None


class ResponseSerializer(ApiModelSerializer):
    assignment = serializers.IntegerField(source="assignment_id", read_only=True)
    participant = serializers.CharField(source="assignment.participant.pseudonym", read_only=True)
    site = serializers.CharField(
        source="assignment.participant.site.code", read_only=True, allow_null=True, default=None
    )
    timepoint = serializers.CharField(source="assignment.timepoint.code", read_only=True)
    occurrence = serializers.IntegerField(source="assignment.occurrence", read_only=True)
    due_at = UtcDateTimeField(source="assignment.due_at", read_only=True)
    questionnaire = serializers.CharField(source="version.questionnaire.code", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    answers = serializers.JSONField(read_only=True, help_text="Answers keyed by item code (linkId).")
    scores = serializers.JSONField(
        read_only=True, help_text="Scores computed at submission: {name: {value, band, raw, answered, of, ...}}."
    )

    class Meta:
        model = Response
        fields = [
            "id",
            "assignment",
            "participant",
            "site",
            "timepoint",
            "occurrence",
            "due_at",
            "questionnaire",
            "version",
            "status",
            "source",
            "started_at",
            "updated_at",
            "submitted_at",
            "answers",
            "scores",
        ]


class ScoreRowSerializer(serializers.Serializer):
    """One score of one response: flat, one row per score, ready for a data frame."""

    response = serializers.IntegerField()
    participant = serializers.CharField()
    site = serializers.CharField(allow_null=True)
    timepoint = serializers.CharField()
    occurrence = serializers.IntegerField()
    questionnaire = serializers.CharField()
    version = serializers.IntegerField()
    submitted_at = UtcDateTimeField(allow_null=True)
    score = serializers.CharField(help_text="Name of the score (export column score_<name>).")
    value = serializers.FloatField(allow_null=True, help_text="Null when it could not be computed (see reason).")
    band = serializers.CharField(allow_null=True, help_text="Code of the band the value falls in, if any.")
    raw = serializers.FloatField(allow_null=True)
    answered = serializers.IntegerField(allow_null=True)
    of = serializers.IntegerField(allow_null=True)
    prorated = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True, help_text="Why there is no value: too_few_answers, ...")
