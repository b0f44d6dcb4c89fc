"""The one place that builds test data. Plain functions with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from surveys.models import (
    AnswerOption,
    Assignment,
    EnableCondition,
    Item,
    Participant,
    Questionnaire,
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


def member(*, user, study: Study, role: str) -> StudyMembership:
    return StudyMembership.objects.create(user=user, study=study, role=role)


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
        questionnaire=questionnaire, link_id=link_id, order=order,
        title_fr=kw.pop("title_fr", f"Page {link_id}"), title_en=kw.pop("title_en", f"Page {link_id}"), **kw,
    )


def item(*, questionnaire: Questionnaire, link_id: str, type: str = "single", order: int | None = None,
         options: list[tuple[str, str, str, float | None]] | None = None, **kw) -> Item:
    """`options` is a list of (code, label_fr, label_en, score)."""
    if order is None:
        order = questionnaire.items.count() + 1
    it = Item.objects.create(
        questionnaire=questionnaire, link_id=link_id, type=type, order=order,
        text_fr=kw.pop("text_fr", f"Question {link_id}"), text_en=kw.pop("text_en", f"Question {link_id}"), **kw,
    )
    for i, (code, fr, en, score) in enumerate(options or []):
        AnswerOption.objects.create(
            item=it, order=i, code=code, label_fr=fr, label_en=en, score=None if score is None else Decimal(str(score))
        )
    return it


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


def published_version(*, study: Study | None = None, by=None):
    from surveys.questionnaires.publish import questionnaire_publish

    return questionnaire_publish(questionnaire=valid_questionnaire(study=study), by=by)


def timepoint(*, version, code: str | None = None, offset: int = 0, window: int = 7, **kw) -> Timepoint:
    return Timepoint.objects.create(
        study=version.questionnaire.study, version=version, code=code or f"t{next(_seq)}",
        label=kw.pop("label", "Timepoint"), offset=offset, window=window, **kw,
    )


def participant(*, study: Study, pseudonym: str | None = None, **kw) -> Participant:
    """A participant who has consented (pass consented_at=None for one who has not)."""
    kw.setdefault("consented_at", timezone.now())
    return Participant.objects.create(study=study, pseudonym=pseudonym or f"P-{next(_seq):05d}", **kw)


def assignment(*, participant: Participant, timepoint: Timepoint, due_at=None, **kw) -> Assignment:
    due_at = due_at or timezone.now()
    return Assignment.objects.create(
        participant=participant, timepoint=timepoint, due_at=due_at,
        expires_at=kw.pop("expires_at", due_at + timedelta(days=timepoint.window)), **kw,
    )


def response(*, assignment: Assignment, status: str = "in_progress", answers: dict | None = None, **kw):
    from surveys.models import Response

    if status == "completed":
        kw.setdefault("submitted_at", timezone.now())
    return Response.objects.create(
        assignment=assignment, version=kw.pop("version", assignment.timepoint.version), status=status,
        answers=answers or {}, **kw,
    )


def patient(*, name: str = "Jeanne Martin", phone: str = "+33612345678", **kw):
    from patients.models import Patient

    return Patient.objects.create(name=name, phone=phone, **kw)


def enrollment(*, patient, participant: Participant, **kw):
    from patients.models import Enrollment

    now = timezone.now()
    return Enrollment.objects.create(
        patient=patient, participant=participant, consent_method=kw.pop("consent_method", "written"),
        consent_recorded_at=kw.pop("consent_recorded_at", now), enrolled_at=kw.pop("enrolled_at", now), **kw,
    )


def open_link(*, study: Study | None = None, version=None, language: str = "en", **assignment_kw) -> tuple[str, Assignment]:
    """An open assignment of a published version and its patient link token (English-speaking patient)."""
    from surveys.answering.links import assignment_link_token

    version = version or published_version(study=study)
    tp = timepoint(version=version)
    p = participant(study=version.questionnaire.study, language=language)
    a = assignment(participant=p, timepoint=tp, **assignment_kw)
    return assignment_link_token(assignment=a), a


def site(*, study: Study, code: str | None = None, name: str = "Practice") -> Site:
    return Site.objects.create(study=study, code=code or f"site{next(_seq)}", name=name)


def every_type_questionnaire(*, study: Study | None = None, one_item_per_page: bool = False) -> Questionnaire:
    """Two pages covering every item type, with a follow-up shown only for 'often'."""
    q = questionnaire(study=study, one_item_per_page=one_item_per_page,
                      intro_fr="Merci de répondre.", intro_en="Thank you for answering.")
    p1 = section(questionnaire=q, link_id="p1", order=1, title_fr="Votre humeur", title_en="Your mood")
    p2 = section(questionnaire=q, link_id="p2", order=2, title_fr="Votre santé", title_en="Your health")
    item(questionnaire=q, link_id="intro", type="display", section=p1,
         text_fr="Pensez aux 7 derniers jours.", text_en="Think of the last 7 days.")
    item(questionnaire=q, link_id="mood", section=p1, options=YES_NO_SOMETIMES, required=True,
         text_fr="Vous êtes-vous senti triste ?", text_en="Have you felt sad?")
    why = item(questionnaire=q, link_id="why", type="long_text", section=p1, max_length=500,
               text_fr="Qu'est-ce qui vous a rendu triste ?", text_en="What made you sad?")
    condition(item=why, question="mood", operator="=", answer="a2")
    item(questionnaire=q, link_id="help", type="multiple", section=p1,
         options=[("fam", "Famille", "Family", None), ("gp", "Médecin", "Doctor", None), ("none", "Personne", "Nobody", None)],
         text_fr="Qui vous aide ?", text_en="Who helps you?", help_fr="Plusieurs réponses possibles.",
         help_en="You may choose several.")
    item(questionnaire=q, link_id="smoker", type="yes_no", section=p1, text_fr="Fumez-vous ?", text_en="Do you smoke?")
    item(questionnaire=q, link_id="cigs", type="integer", section=p2, min_value=0, max_value=100,
         text_fr="Cigarettes par jour", text_en="Cigarettes a day")
    item(questionnaire=q, link_id="weight", type="decimal", section=p2, min_value=20, max_value=300,
         text_fr="Votre poids (kg)", text_en="Your weight (kg)")
    item(questionnaire=q, link_id="pain", type="nrs", section=p2, min_value=0, max_value=10, required=True,
         text_fr="Votre douleur (0 = aucune, 10 = maximale)", text_en="Your pain (0 = none, 10 = worst)")
    item(questionnaire=q, link_id="health", type="vas", section=p2, min_value=0, max_value=100,
         text_fr="Votre santé aujourd'hui (0 à 100)", text_en="Your health today (0 to 100)")
    item(questionnaire=q, link_id="visit", type="date", section=p2,
         text_fr="Date de votre dernière visite", text_en="Date of your last visit")
    item(questionnaire=q, link_id="drug", type="short_text", section=p2, max_length=80,
         text_fr="Votre traitement principal", text_en="Your main treatment")
    return q


def review_send(assignment: Assignment) -> dict:
    """The POST of the review page's Send button: it carries the digest of the answers it showed."""
    from surveys.answering.submit import response_answers_digest
    from surveys.models import Response

    response = Response.objects.filter(assignment=assignment).first()
    return {"action": "submit", "answers_digest": response_answers_digest(response.answers if response else {})}
