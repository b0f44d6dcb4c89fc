"""Every staff page of one study answers the same way (surveys.staff.pages.study_for_page): 404 for a
study that does not exist or in which the user has no role, 403 for a member whose role does not
grant the page, the page itself for the roles it serves."""

from __future__ import annotations

import pytest
from django.urls import reverse

from surveys.rules import ANY_ROLE

# URL name, the roles it serves (a study whose investigators may not export, as by default), method.
PAGES = [
    ("surveys:schedule_replan", {"designer"}, "get"),
    ("surveys:alerts", {"investigator", "data_manager"}, "get"),
    ("surveys:exports", {"data_manager"}, "get"),
    ("patients:enrol", {"investigator"}, "get"),
    ("patients:import", {"investigator"}, "get"),
    ("patients:outbox", {"investigator", "data_manager"}, "get"),
]
# Pages of one object of the study: the study is checked before the object, so with no such
# object the answer is 403 for the wrong role and 404 (the object) for the right one.
OBJECT_PAGES = [
    ("surveys:alert_acknowledge", {"investigator", "data_manager"}, "post"),
    ("surveys:export_job", {"data_manager"}, "get"),
    ("patients:enrolled", {"investigator"}, "get"),
    ("patients:outbox_resend", {"investigator", "data_manager"}, "get"),
]
NO_SUCH_OBJECT = 999_999


def member_of(make, study, role: str | None):
    user = make.user()
    if role is not None:
        make.member(user=user, study=study, role=role)
    return user


def answer(client, name: str, method: str, *args) -> int:
    return getattr(client, method)(reverse(name, args=args)).status_code


@pytest.mark.parametrize("role", ANY_ROLE)
@pytest.mark.parametrize(("name", "serves", "method"), PAGES)
def test_members_get_the_page_or_403(client, make, name, serves, method, role):
    study = make.study()
    client.force_login(member_of(make, study, role))
    assert answer(client, name, method, study.code) == (200 if role in serves else 403)


@pytest.mark.parametrize("role", ANY_ROLE)
@pytest.mark.parametrize(("name", "serves", "method"), OBJECT_PAGES)
def test_members_are_refused_before_the_object_is_looked_up(client, make, name, serves, method, role):
    study = make.study()
    client.force_login(member_of(make, study, role))
    assert answer(client, name, method, study.code, NO_SUCH_OBJECT) == (404 if role in serves else 403)


@pytest.mark.parametrize(("name", "serves", "method"), PAGES + OBJECT_PAGES)
def test_outsiders_cannot_tell_a_study_from_a_mistyped_code(client, make, name, serves, method):
    study = make.study()
    # A member of another study, in every role: the study is not theirs to know of.
    user = make.user()
    for role in ANY_ROLE:
        make.member(user=user, study=make.study(), role=role)
    client.force_login(user)
    args = [NO_SUCH_OBJECT] if (name, serves, method) in OBJECT_PAGES else []
    assert answer(client, name, method, study.code, *args) == 404
    assert answer(client, name, method, "no-such-study", *args) == 404


@pytest.mark.parametrize(("name", "serves", "method"), PAGES)
def test_superusers_reach_every_page(client, make, name, serves, method):
    study = make.study()
    client.force_login(make.user(superuser=True))
    assert answer(client, name, method, study.code) == 200
