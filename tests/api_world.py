"""A small two-study world for the API tests: roles, sites, a scored questionnaire, responses, tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from surveys.answering.submit import response_save_page, response_submit
from surveys.api.tokens import api_token_create
from surveys.models import Assignment, Response
from surveys.questionnaires.publish import questionnaire_publish
from tests import factories as make

RULES = {
    "scores": [
        {
            "name": "total",
            "label": {"fr": "Total", "en": "Total"},
            "items": ["mood", "pain"],
            "method": "sum",
            "bands": [
                {"code": "low", "min": 0, "max": 5, "label": {"fr": "Bas", "en": "Low"}},
                {"code": "high", "min": 6, "max": 12, "label": {"fr": "Haut", "en": "High"}},
            ],
        }
    ],
}


@dataclass
class World:
    objects: dict = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.objects[name]
        except KeyError:
            raise AttributeError(name) from None


def _member(user, study, role, site=None):
    return make.member(user=user, study=study, role=role, site=site)


def world_build() -> World:
    now = timezone.now()
    w = World()
    alpha = make.study(code="alpha", title="Alpha")
    beta = make.study(code="beta", title="Beta")
    north = make.site(study=alpha, code="north", name="Cabinet Nord")
    south = make.site(study=alpha, code="south", name="Cabinet Sud")
    q = make.valid_questionnaire(study=alpha, code="mood")
    q.rules = RULES
    q.save()
    version = questionnaire_publish(questionnaire=q, by=None)
    baseline = make.timepoint(version=version, code="baseline", window=14)
    m3 = make.timepoint(version=version, code="m3", offset=90, window=14, reminders=[3, 7])
    p_north = make.participant(study=alpha, pseudonym="AL01-N0001", site=north)
    p_south = make.participant(study=alpha, pseudonym="AL01-S0002", site=south)
    a_north = make.assignment(
        participant=p_north, timepoint=baseline, due_at=now - timedelta(days=2), status=Assignment.Status.OPEN
    )
    a_south = make.assignment(
        participant=p_south, timepoint=baseline, due_at=now - timedelta(days=1), status=Assignment.Status.OPEN
    )
    a_north_m3 = make.assignment(participant=p_north, timepoint=m3, due_at=now + timedelta(days=88))
    response_save_page(assignment=a_north, answers={"mood": "a2", "why": "work", "pain": 7}, page_index=0, advance=True)
    r_north = response_submit(assignment=a_north)
    response_save_page(assignment=a_south, answers={"mood": "a0"}, page_index=0, advance=False)
    r_south = Response.objects.get(assignment=a_south)

    version_b = make.published_version(study=beta)
    tp_b = make.timepoint(version=version_b, code="baseline")
    p_beta = make.participant(study=beta, pseudonym="BE01-X0001")
    a_beta = make.assignment(participant=p_beta, timepoint=tp_b, due_at=now - timedelta(days=1))
    r_beta = make.response(
        assignment=a_beta,
        status="completed",
        answers={"mood": "a1", "pain": 2},
        scores={"total": {"value": 3, "band": "low"}},
    )

    w.objects.update(
        alpha=alpha,
        beta=beta,
        north=north,
        south=south,
        version=version,
        baseline=baseline,
        m3=m3,
        p_north=p_north,
        p_south=p_south,
        a_north=a_north,
        a_south=a_south,
        a_north_m3=a_north_m3,
        r_north=r_north,
        r_south=r_south,
        version_b=version_b,
        p_beta=p_beta,
        a_beta=a_beta,
        r_beta=r_beta,
    )
    roles = {
        "dm": [(alpha, "data_manager", None)],
        "dm_north": [(alpha, "data_manager", north)],
        "dm_beta": [(beta, "data_manager", None)],
        "designer": [(alpha, "designer", None)],
        "investigator": [(alpha, "investigator", None)],
        "both": [(alpha, "data_manager", None), (beta, "data_manager", None)],
    }
    for name, memberships in roles.items():
        user = make.user(username=f"api_{name}")
        for study, role, site in memberships:
            _member(user, study, role, site)
        w.users[name] = user
        w.tokens[name] = api_token_create(user=user, label=f"{name} script")[1]
    # A token of a member of both studies, narrowed to beta.
    w.tokens["both_beta_only"] = api_token_create(user=w.users["both"], label="beta only", studies=[beta])[1]
    superuser = make.user(username="api_super", superuser=True)
    w.users["super"] = superuser
    w.tokens["super"] = api_token_create(user=superuser, label="all")[1]
    return w
