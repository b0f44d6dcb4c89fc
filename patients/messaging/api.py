"""/api/studies/<code>/messages/: the invitations and reminders planned and sent, read-only.

Lives on the identity side because messages do (surveys never imports patients), but shows only
what the research side may know: pseudonym, assignment, timepoint, kind, channel, times and
status. Never a phone number, an address, a text or a provider's error (which can quote a
number). Who reads it: the outbox's readers (investigators and data managers of the study, at
their site when their membership is limited to one), through the same token and rules as the
rest of the API (surveys/api/).
"""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from patients.messaging.outbox import OUTBOX_ROLES
from patients.models import Message
from surveys.api.base import IdFilter, StudyFilterSet, StudyScopedMixin, date_range
from surveys.api.serializers import ApiModelSerializer, UtcDateTimeField
from surveys.api.views import ReadOnlyViewSet
from surveys.staff.selectors import rows_for_user

# The outbox page's permission: granted to the roles of OUTBOX_ROLES, which scope the rows.
VIEW_MESSAGES = "surveys.view_assignment"


class MessageSerializer(ApiModelSerializer):
    participant = serializers.CharField(source="enrollment.participant.pseudonym", read_only=True)
    site = serializers.CharField(
        source="enrollment.participant.site.code", read_only=True, allow_null=True, default=None
    )
    assignment = serializers.IntegerField(source="assignment_id", read_only=True)
    timepoint = serializers.CharField(source="assignment.timepoint.code", read_only=True)
    occurrence = serializers.IntegerField(source="assignment.occurrence", read_only=True)
    planned_at = UtcDateTimeField(source="scheduled_at", read_only=True, help_text="When it is (or was) due to go out.")

    class Meta:
        model = Message
        fields = [
            "id",
            "participant",
            "site",
            "assignment",
            "timepoint",
            "occurrence",
            "kind",
            "sequence",
            "channel",
            "resend",
            "planned_at",
            "sent_at",
            "delivered_at",
            "status",
        ]
        extra_kwargs = {
            "sequence": {"help_text": "0 for the invitation, 1 to 5 for reminders."},
            "resend": {"help_text": "0 for the planned send, n for the n-th resend by the study team."},
        }


class MessageFilter(StudyFilterSet):
    timepoint = filters.CharFilter(
        field_name="assignment__timepoint__code", method="filter_timepoint", label="Timepoint code"
    )
    participant = filters.CharFilter(field_name="enrollment__participant__pseudonym", label="Pseudonym")
    site = filters.CharFilter(field_name="enrollment__participant__site__code", label="Site code")
    assignment = IdFilter(field_name="assignment_id", label="Assignment id")
    kind = filters.ChoiceFilter(choices=Message.Kind.choices)
    channel = filters.ChoiceFilter(choices=Message.Channel.choices)
    status = filters.ChoiceFilter(choices=Message.Status.choices)
    planned_after, planned_before = date_range("scheduled_at", "Planned")
    sent_after, sent_before = date_range("sent_at", "Sent")

    class Meta:
        model = Message
        fields: list = []


class MessageRows(StudyScopedMixin):
    perm = VIEW_MESSAGES
    model = Message
    serializer_class = MessageSerializer

    def rows(self):
        rows = Message.objects.filter(enrollment__participant__study=self.study).select_related(
            "enrollment__participant__site", "assignment__timepoint"
        )
        # Same scope as the outbox page: the roles that read it, at their site.
        return self.scoped(rows)

    def scoped(self, queryset):
        return rows_for_user(queryset, user=self.request.user, roles=OUTBOX_ROLES)


@extend_schema_view(
    list=extend_schema(
        summary="Scheduled messages: invitations and reminders, planned and sent",
        description="Invitations and reminders, planned and sent: pseudonym, assignment, timepoint, kind, channel, "
        "planned and\nsent times, status. Never a phone number, an address or a text.",
    ),
    retrieve=extend_schema(summary="One scheduled message", description="One scheduled message."),
)
@extend_schema(tags=["messages"])
class MessageViewSet(MessageRows, ReadOnlyViewSet):
    """Invitations and reminders, planned and sent; never a phone number, an address or a text."""

    filterset_class = MessageFilter
