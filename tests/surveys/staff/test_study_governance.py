"""A study's governance fields belong to its investigators and superusers; designers change the rest."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from surveys.models import Study
from surveys.models.study import GOVERNANCE_FIELDS

ROLES = ["designer", "investigator", "data_manager", "reviewer", "superuser"]
# A value different from the default for each governance field.
CHANGED = {
    "legal_basis": "non_opposition",
    "consent_required": False,
    "link_check": "birth_year",
    "pseudonym_mode": "external_id",
    "investigators_can_export": True,
    "review_approvals_required": 3,
}
MAY_GOVERN = {"investigator", "superuser"}
MAY_DESIGN = {"designer", "superuser"}


def test_every_governance_field_is_tested():
    assert set(CHANGED) == set(GOVERNANCE_FIELDS)


def login(client, make, role, study):
    user = make.user(superuser=role == "superuser")
    if role != "superuser":
        make.member(user=user, study=study, role=role)
    client.force_login(user)


def form_data(study: Study, **changes) -> dict:
    data = {k: v for k, v in model_to_dict(study).items() if v is not None and k != "id"}
    data["languages"] = '["fr", "en"]'
    data.update(changes)
    for key, value in list(data.items()):
        if value is False:
            del data[key]  # an unticked box is absent from the post
        elif value is True:
            data[key] = "on"
    data["_save"] = "Save"
    return data


@pytest.mark.parametrize("role", ROLES)
def test_change_page_opens_for_each_role_that_may_change_something(client, make, role):
    study = make.study(code="gov-1")
    login(client, make, role, study)
    response = client.get(reverse("admin:surveys_study_change", args=[study.pk]))
    assert response.status_code == 200  # superusers included (read-only links used to raise a 500)
    form = response.context.get("adminform")
    editable = set(form.form.fields) if form else set()
    for name in GOVERNANCE_FIELDS:
        assert (name in editable) == (role in MAY_GOVERN), name
    assert ("title" in editable) == (role in MAY_DESIGN)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("field", GOVERNANCE_FIELDS)
def test_post_of_a_governance_field_changes_it_only_for_investigators_and_superusers(client, make, role, field):
    study = make.study(code="gov-2")
    before = getattr(study, field)
    login(client, make, role, study)
    response = client.post(
        reverse("admin:surveys_study_change", args=[study.pk]), form_data(study, **{field: CHANGED[field]})
    )
    assert response.status_code in (302, 403), response.content[:2000]
    study.refresh_from_db()
    expected = CHANGED[field] if role in MAY_GOVERN else before
    assert getattr(study, field) == expected


@pytest.mark.parametrize("role", ROLES)
def test_investigators_change_no_design_field(client, make, role):
    study = make.study(code="gov-3", title="Before")
    login(client, make, role, study)
    client.post(reverse("admin:surveys_study_change", args=[study.pk]), form_data(study, title="After"))
    study.refresh_from_db()
    assert study.title == ("After" if role in MAY_DESIGN else "Before")
