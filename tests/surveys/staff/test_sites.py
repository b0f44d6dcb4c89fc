"""Sites (data access groups): an investigator limited to one site sees and acts on that site only."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.enrolment.importing import import_check, import_read, import_run
from patients.models import ConsentRecord, Enrollment, Message, Patient, ReidentificationEvent
from surveys.models import Assignment, Participant, Response, Site
from surveys.staff.selectors import rows_for_user, sites_for_user


@pytest.fixture
def world(make):
    """One study with two sites, a participant at each (enrolled, one assignment answered, one message,
    one consent record, one re-identification), and one in another study."""
    study = make.study(code="sites-study")
    version = make.published_version(study=study)
    tp = make.timepoint(version=version, code="t0")
    notice = make.consent_notice(study=study, version="1.0", language="fr", title="Notice", text="Text")
    auditor = make.user()
    w = SimpleNamespace(study=study, timepoint=tp, sites={}, rows={})
    for code in ("north", "south"):
        site = make.site(study=study, code=code, name=f"Practice {code}")
        participant = make.participant(study=study, pseudonym=f"{code.upper()}-1", site=site)
        assignment = make.assignment(participant=participant, timepoint=tp)
        response = make.response(assignment=assignment, answers={"mood": "a1"})
        patient = make.patient(name=f"Patient {code}", phone="+3361234567" + ("1" if code == "north" else "2"))
        enrollment = make.enrollment(patient=patient, participant=participant)
        message = make.message(
            enrollment=enrollment, assignment=assignment, channel="sms", kind="invitation", scheduled_at=timezone.now()
        )
        record = make.consent_record(enrollment=enrollment, notice=notice, method="written", recorded_at=timezone.now())
        event = make.reidentification_event(user=auditor, participant=participant, reason="follow-up call")
        w.sites[code] = site
        w.rows[code] = SimpleNamespace(
            participant=participant,
            assignment=assignment,
            response=response,
            patient=patient,
            enrollment=enrollment,
            message=message,
            record=record,
            event=event,
        )
    # A participant without a site: only members for all sites see them.
    w.unsited = make.participant(study=study, pseudonym="NOSITE-1")
    return w


def member(make, study, role="investigator", site=None):
    user = make.user()
    membership = make.member(user=user, study=study, role=role)
    if site is not None:
        membership.site = site
        membership.save()
    return user


MODELS = {
    "participant": (Participant, "surveys.view_participant"),
    "assignment": (Assignment, "surveys.view_assignment"),
    "response": (Response, "surveys.view_response"),
    "patient": (Patient, "patients.view_patient"),
    "enrollment": (Enrollment, "patients.view_enrollment"),
    "message": (Message, "patients.view_message"),
    "record": (ConsentRecord, "patients.view_consentrecord"),
    "event": (ReidentificationEvent, "patients.view_reidentificationevent"),
}


@pytest.mark.parametrize("kind", list(MODELS))
def test_investigator_limited_to_a_site_reaches_only_that_sites_rows(make, world, kind):
    model, perm = MODELS[kind]
    north, south = getattr(world.rows["north"], kind), getattr(world.rows["south"], kind)
    user = member(make, world.study, site=world.sites["north"])
    assert user.has_perm(perm, north)
    assert not user.has_perm(perm, south)
    assert list(rows_for_user(model.objects.all(), user=user, roles=["investigator"])) == [north]

    everywhere = member(make, world.study)
    assert everywhere.has_perm(perm, north) and everywhere.has_perm(perm, south)
    assert set(rows_for_user(model.objects.all(), user=everywhere, roles=["investigator"])) >= {north, south}


def admin_url(obj, view="change") -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk] if view == "change" else [])


@pytest.mark.parametrize("kind", list(MODELS))
def test_admin_lists_and_pages_follow_the_site(client, make, world, kind):
    north, south = getattr(world.rows["north"], kind), getattr(world.rows["south"], kind)
    client.force_login(member(make, world.study, site=world.sites["north"]))
    listing = client.get(admin_url(north, "changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [north]
    assert client.get(admin_url(north)).status_code == 200
    assert client.get(admin_url(south)).status_code == 404


def test_participants_without_a_site_are_for_members_of_all_sites(make, world):
    limited = member(make, world.study, site=world.sites["north"])
    everywhere = member(make, world.study)
    assert not limited.has_perm("surveys.view_participant", world.unsited)
    assert everywhere.has_perm("surveys.view_participant", world.unsited)


def test_limited_data_manager_is_limited_too(make, world):
    user = member(make, world.study, role="data_manager", site=world.sites["south"])
    assert list(rows_for_user(Response.objects.all(), user=user, roles=["data_manager"])) == [
        world.rows["south"].response
    ]


def test_site_choices_in_the_admin_offer_only_the_members_site(client, make, world):
    client.force_login(member(make, world.study, site=world.sites["north"]))
    page = client.get(admin_url(world.rows["north"].participant))
    assert set(page.context["adminform"].form.fields["site"].queryset) == {world.sites["north"]}
    assert client.get(admin_url(world.sites["south"])).status_code == 404


def test_sites_for_user(make, world):
    limited = member(make, world.study, site=world.sites["north"])
    assert list(sites_for_user(user=limited, study=world.study, roles=["investigator"])) == [world.sites["north"]]
    assert sites_for_user(user=member(make, world.study), study=world.study, roles=["investigator"]) is None
    assert not sites_for_user(user=limited, study=world.study, roles=["designer"]).exists()


def test_enrolment_page_forces_the_members_site(client, make, world):
    world.study.consent_required = False
    world.study.save()
    client.force_login(member(make, world.study, site=world.sites["north"]))
    url = reverse("patients:enrol", args=[world.study.code])
    form = client.get(url).context["form"]
    assert form.fields["site"].disabled and form["site"].value() == "north"
    # A forged post for the other site still enrols at the member's own site.
    response = client.post(
        url,
        {
            "name": "Jeanne Martin",
            "phone": "0781223344",
            "preferred_channel": "sms",
            "language": "fr",
            "consent_method": "written",
            "site": "south",
        },
    )
    assert response.status_code == 302
    assert Enrollment.objects.latest("pk").participant.site == world.sites["north"]


def test_enrolment_page_offers_every_site_to_members_of_all_sites(client, make, world):
    client.force_login(member(make, world.study))
    form = client.get(reverse("patients:enrol", args=[world.study.code])).context["form"]
    assert [code for code, _label in form.fields["site"].choices] == ["", "north", "south"]
    assert not form.fields["site"].disabled


def test_import_puts_rows_at_the_members_site_and_refuses_other_sites(make, world):
    world.study.consent_required = False
    world.study.save()
    content = b"name,phone,site,consent_method\nA One,0781223344,,written\nB Two,0781223345,south,written\n"
    rows = import_read(filename="x.csv", content=content)
    problems = import_check(study=world.study, rows=rows, only_site=world.sites["north"])
    assert [(p.line, p.field, p.message) for p in problems] == [
        (3, "site", "You may only enrol patients at site north.")
    ]
    rows = import_read(filename="x.csv", content=content.replace(b"south", b"north"))
    import_run(study=world.study, rows=rows, by=None, now=timezone.now(), only_site=world.sites["north"])
    assert set(
        Participant.objects.filter(pseudonym__startswith=world.study.pseudonym_prefix).values_list(
            "site__code", flat=True
        )
    ) == {"north"}


def test_import_page_for_a_limited_member_uses_their_site(client, make, world):
    world.study.consent_required = False
    world.study.save()
    client.force_login(member(make, world.study, site=world.sites["south"]))
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("patients:import", args=[world.study.code])
    content = b"name;phone;site;consent_method\nA One;0781223344;north;written\n"
    report = client.post(url, {"action": "check", "file": SimpleUploadedFile("x.csv", content)})
    assert "You may only enrol patients at site south." in report.content.decode()
    assert Site.objects.count() == 2
