"""Every staff page of a study is one click from where each role works, and only the pages its role opens.

The admin index and the study's admin page list `surveys.staff.pages.study_pages` for the user; each
listed page opens for that role, and each staff page not listed refuses it (403): the list and the pages'
own permission checks agree, role by role.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from surveys.models import StudyMembership
from surveys.staff.pages import STUDY_PAGES, study_pages
from tests import factories

ROLES = [str(role) for role in StudyMembership.Role]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_the_study_pages_it_may_open(client, make, role):
    study = make.study(code="pages")
    user = make.user()
    factories.member(user=user, study=study, role=role)
    client.force_login(user)
    listed = study_pages(user, study)
    index = client.get("/admin/").content.decode()
    change = client.get(reverse("admin:surveys_study_change", args=[study.pk])).content.decode()
    for label, url in listed:
        href = f'href="{url.replace("&", "&amp;")}"'
        assert href in index and href in change, (role, label)
        assert client.get(url).status_code == 200, (role, label)
    urls = {url for _label, url in listed}
    for name, _perm, label in STUDY_PAGES:
        url = reverse(name, args=[study.code])
        if url not in urls:
            assert client.get(url).status_code == 403, (role, str(label))
    # The index says which role the user has in which study.
    row = re.search(r'<tr>\s*<th scope="row"><a href="[^"]+">pages</a>.*?</tr>', index, re.S).group(0)
    assert str(StudyMembership.Role(role).label) in row


def test_a_user_sees_only_their_own_studies_on_the_index(client, make):
    mine, other = make.study(code="mine"), make.study(code="theirs")
    user = make.user()
    factories.member(user=user, study=mine, role="designer")
    client.force_login(user)
    index = client.get("/admin/").content.decode()
    assert ">mine</a>" in index and ">theirs</a>" not in index
    assert other.code not in re.search(r'id="my-studies".*?</table>', index, re.S).group(0)
