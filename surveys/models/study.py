import datetime as dt
from functools import cache
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]


def validate_languages(value: list) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(_('List at least one language, e.g. ["fr", "en"].'))
    unknown = [code for code in value if code not in LANGUAGE_CODES]
    if unknown:
        raise ValidationError(
            _("Unknown language(s): %(codes)s. Known: %(known)s."),
            params={"codes": ", ".join(map(str, unknown)), "known": ", ".join(LANGUAGE_CODES)},
        )


@cache
def known_time_zones() -> frozenset[str]:
    # zoneinfo reads the time-zone files on every call (milliseconds): once per process is enough.
    return frozenset(available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in known_time_zones():
        raise ValidationError(
            _("Unknown time zone %(tz)s (use an IANA name such as Europe/Paris)."), params={"tz": value}
        )


def default_languages() -> list[str]:
    return ["fr", "en"]


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active (enrolling)")
        CLOSED = "closed", _("Closed")

    code = models.SlugField(_("code"), max_length=32, unique=True, help_text=_("Short code, e.g. PRIM-01."))
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    languages = models.JSONField(_("languages"), default=default_languages, validators=[validate_languages])
    fallback_language = models.CharField(_("fallback language"), max_length=8, choices=settings.LANGUAGES, default="fr")
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Paris", validators=[validate_time_zone])

    class LinkCheck(models.TextChoices):
        NONE = "none", _("None: the link alone opens the questionnaire")
        BIRTH_YEAR = "birth_year", _("Year of birth, asked before any question is shown")

    class PseudonymMode(models.TextChoices):
        RANDOM = "random", _("Random")
        EXTERNAL_ID = "external_id", _("Derived from an external identifier (HMAC-SHA-256, study key)")

    class LegalBasis(models.TextChoices):
        CONSENT = "consent", _("Consent")
        NON_OPPOSITION = "non_opposition", _("Non-opposition (French reference methodology)")

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    pseudonym_prefix = models.CharField(
        _("pseudonym prefix"),
        max_length=6,
        default="ST01",
        validators=[RegexValidator(r"^[A-Z0-9]{2,6}$", _("2 to 6 capital letters or digits, e.g. ST01."))],
    )
    pseudonym_mode = models.CharField(
        _("pseudonyms"),
        max_length=16,
        choices=PseudonymMode.choices,
        default=PseudonymMode.RANDOM,
        help_text=_(
            "Derived pseudonyms let the study link to a health-data warehouse; the identifier itself "
            "is never stored and the key lives outside the database (PSEUDONYM_KEYS)."
        ),
    )
    legal_basis = models.CharField(
        _("legal basis"), max_length=16, choices=LegalBasis.choices, default=LegalBasis.CONSENT
    )
    consent_required = models.BooleanField(
        _("consent before questionnaires"),
        default=True,
        help_text=_("No questionnaire opens before consent (or non-opposition) is recorded."),
    )
    screening_version = models.ForeignKey(
        "surveys.QuestionnaireVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("eligibility questionnaire"),
    )
    screening_token = models.CharField(
        max_length=32,
        blank=True,
        editable=False,
        help_text="Public pre-screening link /e/<token>; empty: no self-screening.",
    )
    # Messages go out only inside this window of the patient's local day (patients/messaging/sendtime.py).
    send_window_start = models.TimeField(_("send messages from"), default=dt.time(9, 0))
    send_window_end = models.TimeField(_("send messages until"), default=dt.time(19, 0))
    send_on_sundays = models.BooleanField(_("send on Sundays"), default=False)
    link_check = models.CharField(
        _("second check on patient links"),
        max_length=16,
        choices=LinkCheck.choices,
        default=LinkCheck.NONE,
        help_text=_("For phones that may be shared: the patient confirms their year of birth first."),
    )
    # Data managers export; investigators only when the study says so (surveys.rules "surveys.export_study").
    investigators_can_export = models.BooleanField(
        _("investigators may export"),
        default=False,
        help_text=_("Data managers can always export the study's data, by pseudonym; tick to let investigators too."),
    )
    # Sign-off (surveys.review): a version publishes only after a closed round with this many approvals
    # of the very content being published, or with an audited override.
    review_approvals_required = models.PositiveSmallIntegerField(
        _("review approvals required to publish"),
        default=0,
        help_text=_("0: no review needed. Otherwise the number of panel approvals of the exact content published."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("study")
        verbose_name_plural = _("studies")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"

    @property
    def study_id_for_rules(self) -> int:
        return self.pk

    def clean(self) -> None:
        if isinstance(self.languages, list) and self.fallback_language not in self.languages:
            raise ValidationError(
                {"fallback_language": _("The fallback language must be one of the study's languages.")}
            )


# Governance of a study: who may take part and on what basis, what protects the links, who may export,
# what review publishing needs. Investigators of the study and superusers change them; designers only read
# them (StudyAdmin.get_readonly_fields, permission "surveys.govern_study" in surveys/rules.py).
GOVERNANCE_FIELDS: tuple[str, ...] = (
    "legal_basis",
    "consent_required",
    "link_check",
    "pseudonym_mode",
    "investigators_can_export",
    "review_approvals_required",
)


class Site(models.Model):
    """A recruiting practice or centre (REDCap's data access group)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="sites", verbose_name=_("study"))
    code = models.SlugField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        constraints = [models.UniqueConstraint(fields=["study", "code"], name="site_code_unique_in_study")]
        ordering = ["study", "code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    @property
    def study_id_for_rules(self) -> int:
        return self.study_id


class StudyMembership(models.Model):
    """A staff user's role in one study. Rights follow from roles: see surveys/rules.py."""

    class Role(models.TextChoices):
        DESIGNER = "designer", _("Designer")
        INVESTIGATOR = "investigator", _("Investigator")
        DATA_MANAGER = "data_manager", _("Data manager")
        REVIEWER = "reviewer", _("Reviewer")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_memberships", verbose_name=_("user")
    )
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("study"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    # Investigators limited to one site see only that site's participants (REDCap's data access groups).
    site = models.ForeignKey(
        Site,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("only this site"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("study membership")
        verbose_name_plural = _("study memberships")
        constraints = [models.UniqueConstraint(fields=["user", "study", "role"], name="membership_unique_role")]

    def __str__(self) -> str:
        return f"{self.user} · {self.study.code} · {self.get_role_display()}"

    @property
    def study_id_for_rules(self) -> int:
        return self.study_id
