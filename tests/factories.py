"""The one place that builds test data. Plain functions with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from surveys.models import (
    Alert,
    AnswerOption,
    Assignment,
    ConsentNotice,
    EligibilityRule,
    EnableCondition,
    ExportJob,
    Item,
    ItemFeedback,
    LinkCheckLock,
    Panel,
    PanelMember,
    Participant,
    PublishOverride,
    Questionnaire,
    QuestionnaireVersion,
    Response,
    ResponseCorrection,
    ReviewReminder,
    ReviewRound,
    ReviewSubmission,
    ScoreRecomputation,
    Section,
    Site,
    Study,
    StudyMembership,
    Timepoint,
)

_seq = itertools.count(1)


def user(*, username: str | None = None, staff: bool = True, superuser: bool = False, password: str = "pw-123456789"):
    username = username or f"user{next(_seq)}"
    User = get_user_model()
    u = User.objects.create_user(username=username, email=f"{username}@example.org", password=password)
    u.is_staff = staff or superuser
    u.is_superuser = superuser
    u.save()
    return u


def study(*, code: str | None = None, languages: list[str] | None = None, **kw) -> Study:
    return Study.objects.create(
        code=code or f"st{next(_seq)}", title=kw.pop("title", "Study"), languages=languages or ["fr", "en"], **kw
    )


def member(*, user, study: Study, role: str, **kw) -> StudyMembership:
    return StudyMembership.objects.create(user=user, study=study, role=role, **kw)


def questionnaire(*, study: Study | None = None, code: str | None = None, **kw) -> Questionnaire:
    return Questionnaire.objects.create(
        study=study or globals()["study"](),
        code=code or f"q{next(_seq)}",
        title_fr=kw.pop("title_fr", "Questionnaire"),
        title_en=kw.pop("title_en", "Questionnaire"),
        **kw,
    )


def section(*, questionnaire: Questionnaire, link_id: str, order: int = 0, **kw) -> Section:
    return Section.objects.create(
        questionnaire=questionnaire,
        link_id=link_id,
        order=order,
        title_fr=kw.pop("title_fr", f"Page {link_id}"),
        title_en=kw.pop("title_en", f"Page {link_id}"),
        **kw,
    )


def item(
    *,
    questionnaire: Questionnaire,
    link_id: str,
    type: str = "single",
    order: int | None = None,
    options: list[tuple[str, str, str, float | None]] | None = None,
    **kw,
) -> Item:
    """`options` is a list of (code, label_fr, label_en, score)."""
    if order is None:
        order = questionnaire.items.count() + 1
    it = Item.objects.create(
        questionnaire=questionnaire,
        link_id=link_id,
        type=type,
        order=order,
        text_fr=kw.pop("text_fr", f"Question {link_id}"),
        text_en=kw.pop("text_en", f"Question {link_id}"),
        **kw,
    )
    for i, (code, fr, en, score) in enumerate(options or []):
        answer_option(item=it, code=code, order=i, label_fr=fr, label_en=en, score=score)
    return it


def answer_option(*, item: Item, code: str, order: int | None = None, score: float | None = None, **kw) -> AnswerOption:
    if order is None:
        order = item.options.count()
    return AnswerOption.objects.create(
        item=item,
        code=code,
        order=order,
        label_fr=kw.pop("label_fr", f"Option {code}"),
        label_en=kw.pop("label_en", f"Option {code}"),
        score=None if score is None else Decimal(str(score)),
        **kw,
    )


YES_NO_SOMETIMES = [("a0", "Jamais", "Never", 0), ("a1", "Parfois", "Sometimes", 1), ("a2", "Souvent", "Often", 2)]


def condition(*, item: Item, question: str, operator: str = "=", answer: str = "") -> EnableCondition:
    return EnableCondition.objects.create(item=item, question=question, operator=operator, answer=answer)


def valid_questionnaire(*, study: Study | None = None, code: str | None = None) -> Questionnaire:
    """A small draft that passes publish validation, with one conditional item."""
    q = questionnaire(study=study, code=code)
    s1 = section(questionnaire=q, link_id="p1", order=1)
    item(questionnaire=q, link_id="mood", section=s1, options=YES_NO_SOMETIMES, required=True)
    follow = item(questionnaire=q, link_id="why", type="long_text", section=s1, max_length=500)
    condition(item=follow, question="mood", operator="=", answer="a2")
    item(questionnaire=q, link_id="pain", type="nrs", section=s1, min_value=0, max_value=10)
    return q


def questionnaire_version(
    *,
    questionnaire: Questionnaire,
    definition: dict | None = None,
    number: int | None = None,
    content_hash: str | None = None,
    **kw,
) -> QuestionnaireVersion:
    """A version row written as given (a definition of the draft by default), without the publish checks."""
    from surveys.questionnaires import fhir

    definition = fhir.definition_from_draft(questionnaire) if definition is None else definition
    return QuestionnaireVersion.objects.create(
        questionnaire=questionnaire,
        number=number or questionnaire.versions.count() + 1,
        definition=definition,
        content_hash=content_hash or fhir.content_hash(definition),
        **kw,
    )


def published_version(*, study: Study | None = None, by=None):
    from surveys.questionnaires.publish import questionnaire_publish

    return questionnaire_publish(questionnaire=valid_questionnaire(study=study), by=by)


def timepoint(*, version, code: str | None = None, offset: int = 0, window: int = 7, **kw) -> Timepoint:
    return Timepoint.objects.create(
        study=version.questionnaire.study,
        version=version,
        code=code or f"t{next(_seq)}",
        label=kw.pop("label", "Timepoint"),
        offset=offset,
        window=window,
        **kw,
    )


def participant(*, study: Study, pseudonym: str | None = None, **kw) -> Participant:
    """A participant who has consented (pass consented_at=None for one who has not)."""
    kw.setdefault("consented_at", timezone.now())
    return Participant.objects.create(study=study, pseudonym=pseudonym or f"P-{next(_seq):05d}", **kw)


def assignment(*, participant: Participant, timepoint: Timepoint, due_at=None, **kw) -> Assignment:
    due_at = due_at or timezone.now()
    return Assignment.objects.create(
        participant=participant,
        timepoint=timepoint,
        due_at=due_at,
        expires_at=kw.pop("expires_at", due_at + timedelta(days=timepoint.window)),
        **kw,
    )


def response(*, assignment: Assignment, status: str = "in_progress", answers: dict | None = None, **kw) -> Response:
    if status == "completed":
        kw.setdefault("submitted_at", timezone.now())
    return Response.objects.create(
        assignment=assignment,
        version=kw.pop("version", assignment.timepoint.version),
        status=status,
        answers=answers or {},
        **kw,
    )


def patient(*, name: str = "Jeanne Martin", phone: str = "+33612345678", **kw):
    from patients.models import Patient

    return Patient.objects.create(name=name, phone=phone, **kw)


def enrollment(*, patient, participant: Participant, **kw):
    from patients.models import Enrollment

    now = timezone.now()
    return Enrollment.objects.create(
        patient=patient,
        participant=participant,
        consent_method=kw.pop("consent_method", "written"),
        consent_recorded_at=kw.pop("consent_recorded_at", now),
        enrolled_at=kw.pop("enrolled_at", now),
        **kw,
    )


def open_link(
    *, study: Study | None = None, version=None, language: str = "en", **assignment_kw
) -> tuple[str, Assignment]:
    """An open assignment of a published version and its patient link token (English-speaking patient)."""
    from surveys.answering.links import assignment_link_token

    version = version or published_version(study=study)
    tp = timepoint(version=version)
    p = participant(study=version.questionnaire.study, language=language)
    a = assignment(participant=p, timepoint=tp, **assignment_kw)
    return assignment_link_token(assignment=a), a


def site(*, study: Study, code: str | None = None, name: str = "Practice") -> Site:
    return Site.objects.create(study=study, code=code or f"site{next(_seq)}", name=name)


def response_correction(
    *, response: Response, link_id: str, old_value=None, new_value=None, by=None, reason: str = "Patient called", **kw
) -> ResponseCorrection:
    """The audit row alone: the response's answers are left as they are (surveys.answering.corrections changes both)."""
    return ResponseCorrection.objects.create(
        response=response,
        link_id=link_id,
        old_value=old_value,
        new_value=new_value,
        reason=reason,
        by=by or user(),
        **kw,
    )


def link_check_lock(
    *, assignment: Assignment, locked_at: datetime | None = None, minutes: int = 15, **kw
) -> LinkCheckLock:
    locked_at = locked_at or timezone.now()
    return LinkCheckLock.objects.create(
        assignment=assignment,
        locked_at=locked_at,
        locked_until=kw.pop("locked_until", locked_at + timedelta(minutes=minutes)),
        **kw,
    )


def alert(*, response: Response, rule: str = "item9", **kw) -> Alert:
    """An alert raised by `response` (its study and participant unless given)."""
    p = response.assignment.participant
    return Alert.objects.create(
        study=kw.pop("study", p.study),
        participant=kw.pop("participant", p),
        response=response,
        rule=rule,
        **kw,
    )


def score_recomputation(*, version: QuestionnaireVersion, by=None, **kw) -> ScoreRecomputation:
    return ScoreRecomputation.objects.create(version=version, by=by, reason=kw.pop("reason", "Scoring fixed"), **kw)


def consent_notice(
    *,
    study: Study,
    version: str = "1.0",
    language: str = "en",
    title: str = "About the study",
    text: str = "Why.",
    **kw,
) -> ConsentNotice:
    return ConsentNotice.objects.create(study=study, version=version, language=language, title=title, text=text, **kw)


def eligibility_rule(
    *, study: Study, question: str, kind: str = "inclusion", operator: str = "=", answer: str = "", **kw
) -> EligibilityRule:
    return EligibilityRule.objects.create(
        study=study, kind=kind, question=question, operator=operator, answer=answer, **kw
    )


def export_job(*, study: Study, requested_by=None, format: str = "long_csv", mode: str = "async", **kw) -> ExportJob:
    """A job row as surveys.exports.jobs writes one (its spec: the whole study in `format`), not run."""
    from surveys.exports.spec import ExportSpec

    spec = kw.pop("spec", None) or ExportSpec(study_id=study.pk, format=format).to_dict()
    return ExportJob.objects.create(
        study=study,
        requested_by=requested_by or user(),
        mode=mode,
        spec=spec,
        format=format,
        **kw,
    )


def api_token(*, user, label: str = "Analysis", **kw):
    """(token row, the token itself), made by surveys.api.tokens (the user needs a study role)."""
    from surveys.api.tokens import api_token_create

    return api_token_create(user=user, label=label, **kw)


# --- expert-patient review


def panel(*, study: Study | None = None, code: str | None = None, title: str = "Panel", **kw) -> Panel:
    """A panel of `study`; without one, a site-wide panel."""
    return Panel.objects.create(study=study, code=code or f"panel{next(_seq)}", title=title, **kw)


def panel_member(*, panel: Panel, user=None, **kw) -> PanelMember:
    return PanelMember.objects.create(panel=panel, user=user or globals()["user"](staff=False), **kw)


def review_round(
    *,
    questionnaire: Questionnaire,
    panel: Panel | None = None,
    definition: dict | None = None,
    deadline: datetime | None = None,
    **kw,
) -> ReviewRound:
    """A round on `questionnaire` as round_open freezes it (the draft's definition and its hash unless given),
    written without round_open's checks."""
    from surveys.questionnaires import fhir

    definition = fhir.definition_from_draft(questionnaire) if definition is None else definition
    return ReviewRound.objects.create(
        questionnaire=questionnaire,
        panel=panel or globals()["panel"](study=questionnaire.study),
        definition=definition,
        content_hash=kw.pop("content_hash", None) or fhir.content_hash(definition),
        opened_by=kw.pop("opened_by", None) or user(),
        deadline=deadline or timezone.now() + timedelta(days=7),
        **kw,
    )


def item_feedback(*, round: ReviewRound, reviewer=None, link_id: str = "mood", **kw) -> ItemFeedback:
    return ItemFeedback.objects.create(round=round, reviewer=reviewer or user(staff=False), link_id=link_id, **kw)


def review_submission(*, round: ReviewRound, reviewer=None, **kw) -> ReviewSubmission:
    """A reviewer's view of a round; pass submitted_at (and approved, approved_hash) for one that counts."""
    return ReviewSubmission.objects.create(round=round, reviewer=reviewer or user(staff=False), **kw)


def review_reminder(*, round: ReviewRound, reviewer, days_before: int = 1, **kw) -> ReviewReminder:
    return ReviewReminder.objects.create(
        round=round, reviewer=reviewer, days_before=days_before, sent_at=kw.pop("sent_at", timezone.now()), **kw
    )


def publish_override(
    *, questionnaire: Questionnaire, by=None, reason: str = "Needed before the review ends", **kw
) -> PublishOverride:
    from surveys.questionnaires import fhir

    content_hash = kw.pop("content_hash", None) or fhir.content_hash(fhir.definition_from_draft(questionnaire))
    return PublishOverride.objects.create(
        questionnaire=questionnaire, content_hash=content_hash, by=by or user(), reason=reason, **kw
    )


# --- identity side (patients)


def consent_record(
    *,
    enrollment,
    notice: ConsentNotice,
    method: str = "written",
    typed_name: str = "",
    recorded_at: datetime | None = None,
    **kw,
):
    """A consent record whose hash verifies (patients.consent.records.record_hash_of). Unlike the
    consent_record service, it leaves the enrolment and the participant as they are."""
    from patients.consent.records import record_hash_of
    from patients.models import ConsentRecord

    recorded_at = recorded_at or timezone.now()
    record_hash = kw.pop("record_hash", None) or record_hash_of(
        notice=notice,
        method=method,
        typed_name=typed_name,
        recorded_at=recorded_at,
        pseudonym=enrollment.participant.pseudonym,
    )
    return ConsentRecord.objects.create(
        enrollment=enrollment,
        notice=notice,
        method=method,
        typed_name=typed_name,
        recorded_at=recorded_at,
        record_hash=record_hash,
        **kw,
    )


def reidentification_event(*, participant: Participant, user=None, reason: str = "follow-up call", **kw):
    """The audit row alone, as patients.identity.reidentify writes it (without its permission check)."""
    from patients.models import ReidentificationEvent

    return ReidentificationEvent.objects.create(
        user=user or globals()["user"](), participant=participant, reason=reason, **kw
    )


def message(
    *,
    enrollment,
    assignment: Assignment,
    channel: str = "sms",
    sequence: int = 0,
    kind: str | None = None,
    scheduled_at: datetime | None = None,
    **kw,
):
    """A planned message: the invitation for sequence 0, reminder n for sequence n (unless `kind` says otherwise)."""
    from patients.models import Message

    return Message.objects.create(
        enrollment=enrollment,
        assignment=assignment,
        channel=channel,
        sequence=sequence,
        kind=kind or (Message.Kind.REMINDER if sequence else Message.Kind.INVITATION),
        scheduled_at=scheduled_at or timezone.now(),
        **kw,
    )


def message_resend(*, original, by=None, reason: str = "Patient asked", **kw):
    """A resend of `original`: the new message row (resend n+1) and its audit row; returns the audit row."""
    from patients.models import MessageResend

    again = kw.pop("message", None) or message(
        enrollment=original.enrollment,
        assignment=original.assignment,
        channel=original.channel,
        sequence=original.sequence,
        kind=original.kind,
        resend=original.resend + 1,
    )
    return MessageResend.objects.create(
        original=original, message=again, by=by or user(), reason=reason, at=kw.pop("at", timezone.now()), **kw
    )


def sms_template(
    *,
    study: Study,
    kind: str = "invitation",
    language: str = "en",
    text: str = "{{ sender }}: {{ link }} stop: {{ withdraw_link }}",
    **kw,
):
    from patients.models import SmsTemplate

    return SmsTemplate.objects.create(study=study, kind=kind, language=language, text=text, **kw)


def every_type_questionnaire(*, study: Study | None = None, one_item_per_page: bool = False) -> Questionnaire:
    """Two pages covering every item type, with a follow-up shown only for 'often'."""
    q = questionnaire(
        study=study,
        one_item_per_page=one_item_per_page,
        intro_fr="Merci de répondre.",
        intro_en="Thank you for answering.",
    )
    p1 = section(questionnaire=q, link_id="p1", order=1, title_fr="Votre humeur", title_en="Your mood")
    p2 = section(questionnaire=q, link_id="p2", order=2, title_fr="Votre santé", title_en="Your health")
    item(
        questionnaire=q,
        link_id="intro",
        type="display",
        section=p1,
        text_fr="Pensez aux 7 derniers jours.",
        text_en="Think of the last 7 days.",
    )
    item(
        questionnaire=q,
        link_id="mood",
        section=p1,
        options=YES_NO_SOMETIMES,
        required=True,
        text_fr="Vous êtes-vous senti triste ?",
        text_en="Have you felt sad?",
    )
    why = item(
        questionnaire=q,
        link_id="why",
        type="long_text",
        section=p1,
        max_length=500,
        text_fr="Qu'est-ce qui vous a rendu triste ?",
        text_en="What made you sad?",
    )
    condition(item=why, question="mood", operator="=", answer="a2")
    item(
        questionnaire=q,
        link_id="help",
        type="multiple",
        section=p1,
        options=[
            ("fam", "Famille", "Family", None),
            ("gp", "Médecin", "Doctor", None),
            ("none", "Personne", "Nobody", None),
        ],
        text_fr="Qui vous aide ?",
        text_en="Who helps you?",
        help_fr="Plusieurs réponses possibles.",
        help_en="You may choose several.",
    )
    item(questionnaire=q, link_id="smoker", type="yes_no", section=p1, text_fr="Fumez-vous ?", text_en="Do you smoke?")
    item(
        questionnaire=q,
        link_id="cigs",
        type="integer",
        section=p2,
        min_value=0,
        max_value=100,
        text_fr="Cigarettes par jour",
        text_en="Cigarettes a day",
    )
    item(
        questionnaire=q,
        link_id="weight",
        type="decimal",
        section=p2,
        min_value=20,
        max_value=300,
        text_fr="Votre poids (kg)",
        text_en="Your weight (kg)",
    )
    item(
        questionnaire=q,
        link_id="pain",
        type="nrs",
        section=p2,
        min_value=0,
        max_value=10,
        required=True,
        text_fr="Votre douleur (0 = aucune, 10 = maximale)",
        text_en="Your pain (0 = none, 10 = worst)",
    )
    item(
        questionnaire=q,
        link_id="health",
        type="vas",
        section=p2,
        min_value=0,
        max_value=100,
        text_fr="Votre santé aujourd'hui (0 à 100)",
        text_en="Your health today (0 to 100)",
    )
    item(
        questionnaire=q,
        link_id="visit",
        type="date",
        section=p2,
        text_fr="Date de votre dernière visite",
        text_en="Date of your last visit",
    )
    item(
        questionnaire=q,
        link_id="drug",
        type="short_text",
        section=p2,
        max_length=80,
        text_fr="Votre traitement principal",
        text_en="Your main treatment",
    )
    return q


def review_send(assignment: Assignment) -> dict:
    """The POST of the review page's Send button: it carries the digest of the answers it showed."""
    from surveys.answering.submit import response_answers_digest

    response = Response.objects.filter(assignment=assignment).first()
    return {"action": "submit", "answers_digest": response_answers_digest(response.answers if response else {})}
