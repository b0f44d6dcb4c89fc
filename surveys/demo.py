"""The research half of the demo: a study, two published questionnaires, a schedule, staff accounts.

Used by `manage.py load_demo` (patients/management/commands/load_demo.py,
which adds the identity half) and `manage.py run_demo`. Everything is keyed on
codes and usernames and only written when it differs, so loading the demo
again changes nothing and adds no history rows. The drafts of the demo
questionnaires are reset to the content below on every load, and PHQ-9 comes
from the instrument library (imported as the library page does, never retyped
here); publishing identical content returns the version already published.

This module is in the research domain: it never imports `patients`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from surveys.answering.links import assignment_link_token
from surveys.interop import library
from surveys.models import (
    AnswerOption,
    Assignment,
    ConsentNotice,
    EnableCondition,
    Item,
    Panel,
    PanelMember,
    Participant,
    Questionnaire,
    QuestionnaireVersion,
    ReviewRound,
    ReviewSubmission,
    Section,
    Site,
    Study,
    StudyMembership,
    Timepoint,
)
from surveys.questionnaires import fhir
from surveys.questionnaires.publish import questionnaire_publish
from surveys.review.rounds import round_close, round_open

STUDY_CODE = "demo-soins-primaires"
SITE_CODE = "martin"

# Fixed, printed, reset on every load: they only ever exist in a demo database
# (load_demo refuses to run with DEBUG off unless forced).
SUPERUSER = "admin"
STAFF_ROLES = [
    StudyMembership.Role.DESIGNER,
    StudyMembership.Role.INVESTIGATOR,
    StudyMembership.Role.DATA_MANAGER,
    StudyMembership.Role.REVIEWER,
]


def demo_password(username: str) -> str:
    return f"demo-{username.replace('_', '-')}-2026"


# --- Questionnaire content ------------------------------------------------------------


@dataclass(frozen=True)
class OptionSpec:
    code: str
    label_fr: str
    label_en: str
    score: Decimal | None = None


@dataclass(frozen=True)
class ConditionSpec:
    question: str
    operator: str
    answer: str


@dataclass(frozen=True)
class ItemSpec:
    link_id: str
    type: str
    text_fr: str
    text_en: str
    help_fr: str = ""
    help_en: str = ""
    required: bool = False
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    max_length: int | None = None
    options: tuple[OptionSpec, ...] = ()
    conditions: tuple[ConditionSpec, ...] = ()
    enable_behavior: str = Item.EnableBehavior.ALL


@dataclass(frozen=True)
class SectionSpec:
    link_id: str
    title_fr: str
    title_en: str
    items: tuple[ItemSpec, ...]


@dataclass(frozen=True)
class QuestionnaireSpec:
    code: str
    kind: str
    title_fr: str
    title_en: str
    intro_fr: str
    intro_en: str
    sections: tuple[SectionSpec, ...]


VISIT = QuestionnaireSpec(
    code="visite",
    kind=Questionnaire.Kind.PREM,
    title_fr="Votre dernière consultation",
    title_en="Your last visit",
    intro_fr="Quelques questions sur votre dernière consultation chez votre médecin généraliste (2 minutes).",
    intro_en="A few questions about your last visit to your general practitioner (2 minutes).",
    sections=(
        SectionSpec(
            "visit_p1",
            "La consultation",
            "The visit",
            (
                ItemSpec(
                    "visit_date",
                    Item.Type.DATE,
                    "Date de votre dernière consultation",
                    "Date of your last visit",
                    help_fr="Une date approximative suffit.",
                    help_en="An approximate date is fine.",
                    required=True,
                ),
                ItemSpec(
                    "visit_reason",
                    Item.Type.SHORT_TEXT,
                    "En quelques mots, quel était le motif de la consultation ?",
                    "In a few words, what was the main reason for the visit?",
                    help_fr="Facultatif. N'indiquez ni nom ni coordonnées.",
                    help_en="Optional. Please do not give names or contact details.",
                    max_length=100,
                ),
                ItemSpec(
                    "visit_wait",
                    Item.Type.SINGLE,
                    "Combien de temps avez-vous attendu en salle d'attente ?",
                    "How long did you wait in the waiting room?",
                    required=True,
                    options=(
                        OptionSpec("w1", "Moins de 15 minutes", "Less than 15 minutes"),
                        OptionSpec("w2", "De 15 à 30 minutes", "15 to 30 minutes"),
                        OptionSpec("w3", "De 30 minutes à 1 heure", "30 minutes to 1 hour"),
                        OptionSpec("w4", "Plus d'une heure", "More than 1 hour"),
                    ),
                ),
                ItemSpec(
                    "visit_explain",
                    Item.Type.YES_NO,
                    "Le médecin vous a-t-il expliqué les choses clairement ?",
                    "Did the doctor explain things clearly?",
                    required=True,
                ),
            ),
        ),
        SectionSpec(
            "visit_p2",
            "Votre avis",
            "Your opinion",
            (
                ItemSpec(
                    "visit_overall",
                    Item.Type.VAS,
                    "Dans l'ensemble, comment évaluez-vous cette consultation ?",
                    "Overall, how would you rate this visit?",
                    help_fr="0 = la pire expérience possible, 100 = la meilleure.",
                    help_en="0 = the worst possible experience, 100 = the best.",
                    required=True,
                    min_value=Decimal(0),
                    max_value=Decimal(100),
                ),
                ItemSpec(
                    "visit_recommend",
                    Item.Type.NRS,
                    "Quelle est la probabilité que vous recommandiez ce cabinet à un proche ?",
                    "How likely are you to recommend this practice to a friend or family member?",
                    help_fr="0 = pas du tout probable, 10 = extrêmement probable.",
                    help_en="0 = not at all likely, 10 = extremely likely.",
                    required=True,
                    min_value=Decimal(0),
                    max_value=Decimal(10),
                ),
                ItemSpec(
                    "visit_improve",
                    Item.Type.LONG_TEXT,
                    "Qu'est-ce qui aurait pu être mieux ?",
                    "What could have been better?",
                    max_length=2000,
                    conditions=(ConditionSpec("visit_recommend", "<", "7"),),
                ),
            ),
        ),
    ),
)

QUESTIONNAIRES = (VISIT,)
# Designed and not yet published: the open review round of the demo panel reads it.
SLEEP = QuestionnaireSpec(
    code="sommeil",
    kind=Questionnaire.Kind.PROM,
    title_fr="Votre sommeil",
    title_en="Your sleep",
    intro_fr="Trois questions sur vos nuits du dernier mois (1 minute).",
    intro_en="Three questions about your nights over the last month (1 minute).",
    sections=(
        SectionSpec(
            "sleep_p1",
            "Vos nuits",
            "Your nights",
            (
                ItemSpec(
                    "sleep_hours",
                    Item.Type.INTEGER,
                    "Combien d'heures dormez-vous par nuit, en moyenne ?",
                    "How many hours do you sleep a night, on average?",
                    required=True,
                    min_value=Decimal(0),
                    max_value=Decimal(24),
                ),
                ItemSpec(
                    "sleep_quality",
                    Item.Type.SINGLE,
                    "Comment jugez-vous la qualité de votre sommeil ?",
                    "How would you rate the quality of your sleep?",
                    required=True,
                    options=(
                        OptionSpec("q1", "Très bonne", "Very good"),
                        OptionSpec("q2", "Plutôt bonne", "Fairly good"),
                        OptionSpec("q3", "Plutôt mauvaise", "Fairly bad"),
                        OptionSpec("q4", "Très mauvaise", "Very bad"),
                    ),
                ),
                ItemSpec(
                    "sleep_tired",
                    Item.Type.YES_NO,
                    "Vous sentez-vous souvent fatigué(e) dans la journée ?",
                    "Do you often feel tired during the day?",
                ),
            ),
        ),
    ),
)
DRAFTS = (SLEEP,)

# The expert-patient panel: a reviewer who is not staff (reviewers' pages are /review/, never the admin),
# one open round on the draft above, one closed round that signed off the published PHQ-9.
EXPERT = "patient_expert"
PANEL_CODE = "patients-experts"
OPEN_ROUND_TITLE = "Relecture du questionnaire sur le sommeil"
CLOSED_ROUND_TITLE = "Relecture du PHQ-9 avant l'inclusion"
# Instruments of the library (surveys/interop/instruments/) the demo takes as they are, codes and all, as a
# designer does from the library page: their text is never retyped here.
LIBRARY_QUESTIONNAIRES = ("phq9",)


# --- Schedule ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TimepointSpec:
    code: str
    label: str
    questionnaire: str
    offset: int
    window: int
    reminders: tuple[int, ...]
    channels: tuple[str, ...]
    send_time: time | None = None
    unit: str = Timepoint.Unit.DAYS


TIMEPOINTS = (
    TimepointSpec(
        "baseline", "Inclusion (J0)", "phq9", offset=0, window=7, reminders=(2, 5), channels=("sms", "email")
    ),
    TimepointSpec(
        "visit_d1",
        "Lendemain de la consultation (J1)",
        "visite",
        offset=1,
        window=14,
        reminders=(3, 7),
        channels=("email", "sms"),
        send_time=time(18, 0),
    ),
    TimepointSpec(
        "m3",
        "Suivi à 3 mois (M3)",
        "phq9",
        offset=90,
        window=14,
        reminders=(3, 7),
        channels=("sms", "email"),
        send_time=time(18, 0),
    ),
)

# Participants of the demo; patients/demo.py gives each one a (fictional) person.
PSEUDONYMS = ("DEMO-0001", "DEMO-0002", "DEMO-0003")


# --- Writing without duplicates or needless history -------------------------------------


def _upsert(model: type[models.Model], *, lookup: dict, values: dict, create_only: dict | None = None):
    """Fetch by `lookup`; create it, or write only the fields of `values` that differ."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **values, **(create_only or {}))
        obj.full_clean()
        obj.save()
        return obj
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.full_clean()
        obj.save()
    return obj


def _instrument_fields(code: str) -> dict:
    """Rules, safety message and instrument code of a library instrument, as its import gives them."""
    definition = library.instrument_definition(code)
    return {
        "rules": fhir.rules_of(definition),
        "safety_message_fr": fhir.safety_message(definition, "fr"),
        "safety_message_en": fhir.safety_message(definition, "en"),
        "instrument": code,
    }


def _library_draft_load(*, study: Study, code: str, by: models.Model | None) -> Questionnaire:
    """The draft of library instrument `code`, imported as the library page does. An imported draft keeps the
    library's definition whole and the admin does not edit it; its draft fields (rules, safety message) can be,
    so a later load puts them back."""
    questionnaire = study.questionnaires.filter(code=code).first()
    if questionnaire is None:
        return library.instrument_import(study=study, code=code, by=by)
    return _upsert(Questionnaire, lookup={"pk": questionnaire.pk}, values=_instrument_fields(code))


def _draft_load(*, study: Study, spec: QuestionnaireSpec) -> Questionnaire:
    """Make the questionnaire's draft rows exactly the spec (extra draft rows are removed)."""
    questionnaire = _upsert(
        Questionnaire,
        lookup={"study": study, "code": spec.code},
        values={
            "kind": spec.kind,
            "title_fr": spec.title_fr,
            "title_en": spec.title_en,
            "intro_fr": spec.intro_fr,
            "intro_en": spec.intro_en,
            "rules": {},
            "safety_message_fr": "",
            "safety_message_en": "",
            "instrument": "",
        },
    )
    item_order = 0
    section_codes, item_codes = [], []
    for section_order, section_spec in enumerate(spec.sections, start=1):
        section = _upsert(
            Section,
            lookup={"questionnaire": questionnaire, "link_id": section_spec.link_id},
            values={"order": section_order, "title_fr": section_spec.title_fr, "title_en": section_spec.title_en},
        )
        section_codes.append(section.link_id)
        for item_spec in section_spec.items:
            item_order += 1
            item = _upsert(
                Item,
                lookup={"questionnaire": questionnaire, "link_id": item_spec.link_id},
                values={
                    "section": section,
                    "order": item_order,
                    "type": item_spec.type,
                    "text_fr": item_spec.text_fr,
                    "text_en": item_spec.text_en,
                    "help_fr": item_spec.help_fr,
                    "help_en": item_spec.help_en,
                    "required": item_spec.required,
                    "min_value": item_spec.min_value,
                    "max_value": item_spec.max_value,
                    "max_length": item_spec.max_length,
                    "enable_behavior": item_spec.enable_behavior,
                },
            )
            item_codes.append(item.link_id)
            _options_load(item=item, options=item_spec.options)
            _conditions_load(item=item, conditions=item_spec.conditions)
    questionnaire.items.exclude(link_id__in=item_codes).delete()
    questionnaire.sections.exclude(link_id__in=section_codes).delete()
    return questionnaire


def _options_load(*, item: Item, options: Iterable[OptionSpec]) -> None:
    codes = []
    for order, option in enumerate(options, start=1):
        _upsert(
            AnswerOption,
            lookup={"item": item, "code": option.code},
            values={"order": order, "label_fr": option.label_fr, "label_en": option.label_en, "score": option.score},
        )
        codes.append(option.code)
    item.options.exclude(code__in=codes).delete()


def _conditions_load(*, item: Item, conditions: Iterable[ConditionSpec]) -> None:
    keep = []
    for condition in conditions:
        row = _upsert(
            EnableCondition,
            lookup={
                "item": item,
                "question": condition.question,
                "operator": condition.operator,
                "answer": condition.answer,
            },
            values={},
        )
        keep.append(row.pk)
    item.conditions.exclude(pk__in=keep).delete()


# --- The research half of the demo ------------------------------------------------------


@dataclass
class DemoResearch:
    study: Study
    site: Site
    versions: dict[str, QuestionnaireVersion]
    timepoints: list[Timepoint]
    users: dict[str, models.Model]  # username -> user
    passwords: dict[str, str] = field(default_factory=dict)  # username -> password


NOTICE_VERSION = "demo-2026-01"
NOTICE = {
    "fr": (
        "Note d'information — étude Ressenti (démonstration)",
        (
            "Cette étude fictive montre comment Ressenti recueille vos réponses à des questionnaires de santé.\n\n"
            "Vos réponses sont enregistrées sous un pseudonyme ; votre nom et vos coordonnées sont chiffrés et "
            "seuls les investigateurs de l'étude peuvent les voir.\n\n"
            "Vous pouvez arrêter à tout moment, depuis n'importe quel message, et choisir de garder ou d'effacer "
            "vos réponses."
        ),
    ),
    "en": (
        "Information notice — Ressenti study (demo)",
        (
            "This fictional study shows how Ressenti collects your answers to health questionnaires.\n\n"
            "Your answers are kept under a pseudonym; your name and contact details are encrypted and only the "
            "study's investigators can see them.\n\n"
            "You may stop at any time, from any message, and choose to keep or erase your answers."
        ),
    ),
}


def demo_research_load() -> DemoResearch:
    """Create or bring back the demo study, its questionnaires, schedule and staff accounts."""
    with transaction.atomic():
        study = _upsert(
            Study,
            lookup={"code": STUDY_CODE},
            values={
                "title": "Ressenti en soins primaires — étude de démonstration",
                "description": (
                    "Étude fictive pour essayer Ressenti : dépression (PHQ-9) à l'inclusion et à 3 mois, "
                    "expérience de la consultation le lendemain. Aucune donnée réelle."
                ),
                "languages": ["fr", "en"],
                "fallback_language": "fr",
                "time_zone": "Europe/Paris",
                "status": Study.Status.ACTIVE,
                # The demo sends at any hour, so `make run` shows messages flowing whenever it is tried;
                # a real study keeps the default 09:00-19:00, no Sundays.
                "send_window_start": dt.time(0, 0),
                "send_window_end": dt.time(23, 59),
                "send_on_sundays": True,
            },
        )
        site = _upsert(Site, lookup={"study": study, "code": SITE_CODE}, values={"name": "Cabinet du Dr Martin"})
        users, passwords = _staff_load(study=study)
        for language, (title, text) in NOTICE.items():
            # Notices are immutable: create once, never update.
            if not ConsentNotice.objects.filter(study=study, version=NOTICE_VERSION, language=language).exists():
                ConsentNotice.objects.create(
                    study=study, version=NOTICE_VERSION, language=language, title=title, text=text
                )

        versions = {}
        for code in LIBRARY_QUESTIONNAIRES:
            questionnaire = _library_draft_load(study=study, code=code, by=users["designer"])
            versions[code] = questionnaire_publish(questionnaire=questionnaire, by=users["designer"])
        for spec in QUESTIONNAIRES:
            questionnaire = _draft_load(study=study, spec=spec)
            versions[spec.code] = questionnaire_publish(questionnaire=questionnaire, by=users["designer"])
        drafts = [_draft_load(study=study, spec=spec) for spec in DRAFTS]
        expert, expert_password = _review_load(
            study=study, designer=users["designer"], draft=drafts[0], signed_off=versions["phq9"]
        )
        users[EXPERT], passwords[EXPERT] = expert, expert_password

        timepoints = []
        for order, tp in enumerate(TIMEPOINTS, start=1):
            timepoints.append(
                _upsert(
                    Timepoint,
                    lookup={"study": study, "code": tp.code},
                    values={
                        "label": tp.label,
                        "order": order,
                        "version": versions[tp.questionnaire],
                        "unit": tp.unit,
                        "offset": tp.offset,
                        "window": tp.window,
                        "reminders": list(tp.reminders),
                        "send_time": tp.send_time,
                        "channels": list(tp.channels),
                    },
                )
            )
    return DemoResearch(
        study=study, site=site, versions=versions, timepoints=timepoints, users=users, passwords=passwords
    )


def _staff_load(*, study: Study) -> tuple[dict, dict]:
    User = get_user_model()
    users, passwords = {}, {}
    for username in [SUPERUSER, *STAFF_ROLES]:
        username = str(username)
        user = _upsert(
            User,
            lookup={"username": username},
            values={
                "email": f"{username.replace('_', '.')}@demo.example.org",
                "is_staff": True,
                "is_superuser": username == SUPERUSER,
                "is_active": True,
            },
            create_only={"password": "!"},  # unusable until set just below
        )
        passwords[username] = demo_password(username)
        user.set_password(passwords[username])
        user.save(update_fields=["password"])
        users[username] = user
        if username != SUPERUSER:
            _upsert(StudyMembership, lookup={"user": user, "study": study, "role": username}, values={})
    _lockouts_clear(list(users))
    return users, passwords


def _review_load(
    *, study: Study, designer: AbstractBaseUser, draft: Questionnaire, signed_off: QuestionnaireVersion
) -> tuple[models.Model, str]:
    """The panel, its expert reviewer (not staff), an open round on `draft` and a closed one approving
    `signed_off`. Rounds are created once: a round freezes what it reviewed, so loading again keeps them."""
    expert = _upsert(
        get_user_model(),
        lookup={"username": EXPERT},
        values={
            "email": "patient.expert@demo.example.org",
            "is_staff": False,
            "is_superuser": False,
            "is_active": True,
        },
        create_only={"password": "!"},
    )
    password = demo_password(EXPERT)
    expert.set_password(password)
    expert.save(update_fields=["password"])
    _lockouts_clear([EXPERT])
    panel = _upsert(Panel, lookup={"study": study, "code": PANEL_CODE}, values={"title": "Comité de patients experts"})
    now = timezone.now()
    _upsert(
        PanelMember,
        lookup={"panel": panel, "user": expert},
        values={"kind": PanelMember.Kind.EXPERT_PATIENT, "active": True, "language": "fr"},
        create_only={"accepted_at": now},
    )
    open_round = ReviewRound.objects.filter(questionnaire=draft, panel=panel, title=OPEN_ROUND_TITLE).first()
    if open_round is None:
        round_open(
            questionnaire=draft,
            panel=panel,
            deadline=now + timedelta(days=30),
            by=designer,
            title=OPEN_ROUND_TITLE,
            instructions="Ces questions sont-elles claires ? Manque-t-il quelque chose d'important pour vous ?",
        )
    elif open_round.deadline <= now + timedelta(days=7):
        # An old demo database: the round stays open for whoever tries it.
        open_round.deadline = now + timedelta(days=30)
        open_round.closed_at = None
        open_round.save(update_fields=["deadline", "closed_at"])
    questionnaire = signed_off.questionnaire
    if not ReviewRound.objects.filter(questionnaire=questionnaire, panel=panel, title=CLOSED_ROUND_TITLE).exists():
        closed = round_open(
            questionnaire=questionnaire,
            panel=panel,
            deadline=now + timedelta(days=1),
            by=designer,
            title=CLOSED_ROUND_TITLE,
        )
        ReviewSubmission.objects.create(
            round=closed,
            reviewer=expert,
            burden=2,
            comments="Questions claires ; la durée est raisonnable.",
            approved=True,
            approved_hash=closed.content_hash,
            submitted_at=now,
        )
        round_close(round_=closed, by=designer)
    return expert, password


def _lockouts_clear(usernames: list[str]) -> None:
    # A demo account locked out by django-axes would make the printed password a lie.
    if "axes" not in settings.INSTALLED_APPS:
        return
    from axes.models import AccessAttempt
    from axes.utils import reset

    for username in AccessAttempt.objects.filter(username__in=usernames).values_list("username", flat=True).distinct():
        reset(username=username)


def demo_participant_load(*, research: DemoResearch, pseudonym: str, language: str) -> Participant:
    return _upsert(
        Participant,
        lookup={"study": research.study, "pseudonym": pseudonym},
        values={"site": research.site, "language": language},
        create_only={"status": Participant.Status.ACTIVE},
    )


def demo_assignments_plan(*, participant: Participant, enrolled_at: datetime, now: datetime | None = None) -> list:
    """One assignment per timepoint, from the enrolment instant: open if already due, else planned.

    An existing assignment keeps its status (the worker or the patient moved
    it on); a planned or open one follows the schedule if it changed.
    """
    now = now or timezone.now()
    assignments = []
    for timepoint in participant.study.timepoints.order_by("order", "offset"):
        due_at = enrolled_at + timedelta(**{timepoint.unit: timepoint.offset})
        expires_at = due_at + timedelta(**{timepoint.unit: timepoint.window})
        lookup = {"participant": participant, "timepoint": timepoint, "occurrence": 1}
        existing = Assignment.objects.filter(**lookup).first()
        if existing is not None and existing.status not in (Assignment.Status.PLANNED, Assignment.Status.OPEN):
            assignments.append(existing)
            continue
        status = Assignment.Status.OPEN if due_at <= now else Assignment.Status.PLANNED
        assignments.append(
            _upsert(
                Assignment,
                lookup=lookup,
                values={"due_at": due_at, "expires_at": expires_at},
                create_only={"status": status},
            )
        )
    return assignments


# --- Where to click -------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAccess:
    admin_url: str
    patient_url: str | None
    patient_pseudonym: str | None
    patient_timepoint: str | None
    credentials: list[tuple[str, str, str, str]]  # (username, password, role, where to sign in)


def demo_access(*, site_url: str | None = None, issue_link: bool = True) -> DemoAccess | None:
    """Where to click: the admin, the demo accounts, and the patient link of one open assignment
    (the same link its messages carry). Returns None when no demo is loaded.
    """
    study = Study.objects.filter(code=STUDY_CODE).first()
    if study is None:
        return None
    site_url = (site_url or settings.SITE_URL).rstrip("/")
    admin_url = site_url + reverse("admin:index")
    credentials = [
        (SUPERUSER, demo_password(SUPERUSER), str(_("superuser")), admin_url),
        *((str(role), demo_password(str(role)), str(role.label), admin_url) for role in STAFF_ROLES),
        # Not staff: reviewers sign in to their own pages, where the open round waits.
        (
            EXPERT,
            demo_password(EXPERT),
            str(PanelMember.Kind.EXPERT_PATIENT.label),
            site_url + reverse("surveys:review_home"),
        ),
    ]
    # The first patient's baseline when still open; otherwise any open demo assignment.
    assignment = (
        Assignment.objects.filter(
            participant__study=study, participant__pseudonym__in=PSEUDONYMS, status=Assignment.Status.OPEN
        )
        .select_related("participant", "timepoint")
        .order_by("participant__pseudonym", "due_at", "id")
        .first()
    )
    patient_url = pseudonym = timepoint = None
    if assignment is not None:
        pseudonym, timepoint = assignment.participant.pseudonym, assignment.timepoint.code
        if issue_link:
            token = assignment_link_token(assignment=assignment)
            patient_url = site_url + reverse("surveys:respond", args=[token])
    return DemoAccess(
        admin_url=admin_url,
        patient_url=patient_url,
        patient_pseudonym=pseudonym,
        patient_timepoint=timepoint,
        credentials=credentials,
    )


def demo_access_print(*, access: DemoAccess | None, write: Callable[[str], object]) -> None:
    if access is None:
        write("No demo loaded: run `manage.py load_demo` first.")
        return
    write("")
    write(f"Staff admin:   {access.admin_url}")
    if access.patient_url:
        write(f"Patient link:  {access.patient_url}")
        write(f"               ({access.patient_pseudonym}, timepoint {access.patient_timepoint})")
    elif access.patient_pseudonym is None:
        write("Patient link:  none (no open demo assignment left)")
    write("")
    rows = [("username", "password", "role", "sign in at"), *access.credentials]
    widths = [max(len(row[n]) for row in rows) for n in range(3)]
    for row in rows:
        write("  " + "  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=False)) + f"  {row[3]}")
    write("")


def broker_folders_ensure() -> None:
    """Kombu's filesystem transport expects its folders to exist (var/celery-*); Redis needs none."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    for key, value in options.items():
        # data_folder_in / _out, processed_folder, control_folder
        if "folder" in key and isinstance(value, str | Path) and value:
            Path(value).mkdir(parents=True, exist_ok=True)
