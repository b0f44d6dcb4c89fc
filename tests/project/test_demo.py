"""The demo: `load_demo` is repeatable and gives working accounts and a working patient link."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from patients import demo as patients_demo
from patients.models import Enrollment, Patient
from surveys import demo
from surveys.interop import library
from surveys.models import (
    AnswerOption,
    Assignment,
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
from surveys.questionnaires.validation import definition_problems
from surveys.review import panels, rounds

BASE_DIR = Path(settings.BASE_DIR)

MODELS = [
    Study,
    Site,
    Questionnaire,
    QuestionnaireVersion,
    Section,
    Item,
    AnswerOption,
    EnableCondition,
    Timepoint,
    Participant,
    Assignment,
    Patient,
    Enrollment,
    StudyMembership,
    Panel,
    PanelMember,
    ReviewRound,
    ReviewSubmission,
    get_user_model(),
]


def load_demo(*args: str) -> str:
    out = StringIO()
    # Test settings run with DEBUG off, like production: hence --force.
    call_command("load_demo", "--force", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    found = {model._meta.label: model.objects.count() for model in MODELS}
    for model in MODELS:
        if hasattr(model, "history"):
            found[model.history.model._meta.label] = model.history.count()
    return found


def printed_credentials(output: str) -> dict[str, str]:
    table = output.split("username", 1)[1].splitlines()[1:]
    rows = [line.split() for line in table if line.startswith("  ") and line.strip()]
    return {row[0]: row[1] for row in rows}


def printed_patient_path(output: str) -> str:
    url = re.search(r"Patient link:\s+(\S+)", output).group(1)
    assert url.startswith(settings.SITE_URL + "/s/")
    return url.removeprefix(settings.SITE_URL)


@pytest.mark.django_db
def test_load_demo_twice_duplicates_nothing():
    load_demo()
    first = counts()
    load_demo()
    # History rows included: a second load writes nothing at all.
    assert counts() == first
    assert first["surveys.Study"] == 1
    assert first["surveys.Questionnaire"] == 3  # two published, one draft under review
    assert first["surveys.QuestionnaireVersion"] == 2
    assert first["surveys.ReviewRound"] == 2
    assert first["surveys.ReviewSubmission"] == 1
    assert first["surveys.PanelMember"] == 1
    assert first["surveys.Timepoint"] == 3
    assert first["surveys.Participant"] == first["patients.Patient"] == first["patients.Enrollment"] == 3
    assert first["surveys.Assignment"] == 9
    assert first["surveys.StudyMembership"] == 4


def test_every_demo_participant_has_a_demo_person():
    assert tuple(spec.pseudonym for spec in patients_demo.PATIENTS) == demo.PSEUDONYMS


@pytest.mark.django_db
def test_load_demo_refuses_to_run_with_debug_off_unless_forced():
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("load_demo", stdout=StringIO())
    assert not Study.objects.exists()
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_demo_questionnaires_pass_publish_validation():
    load_demo("--no-link")
    study = Study.objects.get(code=demo.STUDY_CODE)
    for questionnaire in study.questionnaires.exclude(code__in=[spec.code for spec in demo.DRAFTS]):
        version = questionnaire.versions.get()
        assert definition_problems(version.definition, languages=study.languages) == []
        # Identical content: publishing again returns the same version.
        assert questionnaire_publish(questionnaire=questionnaire, by=None) == version
    for spec in demo.DRAFTS:
        draft = study.questionnaires.get(code=spec.code)
        assert not draft.versions.exists()
        assert definition_problems(fhir.definition_from_draft(draft), languages=study.languages) == []


@pytest.mark.django_db
def test_the_demo_panel_has_an_open_round_and_a_closed_round_that_signed_off_phq9():
    load_demo("--no-link")
    phq9 = QuestionnaireVersion.objects.get(questionnaire__code="phq9")
    # The closed round reviewed exactly the published content, with the expert's approval.
    signed = rounds.approving_round(questionnaire=phq9.questionnaire, content_hash=phq9.content_hash)
    assert signed is not None and signed.title == demo.CLOSED_ROUND_TITLE
    open_round = ReviewRound.objects.get(title=demo.OPEN_ROUND_TITLE)
    assert open_round.closed_at is None and open_round.questionnaire.code == "sommeil"
    expert = get_user_model().objects.get(username=demo.EXPERT)
    assert not expert.is_staff
    assert list(panels.rounds_for_reviewer(user=expert).filter(closed_at__isnull=True)) == [open_round]


@pytest.mark.django_db
def test_demo_restores_its_drafts_and_republishes_nothing_when_unchanged():
    load_demo("--no-link")
    item = Item.objects.get(questionnaire__code="visite", link_id="visit_wait")
    item.text_en = "Edited by someone trying the admin"
    item.save()
    phq9 = Questionnaire.objects.get(code="phq9")
    safety_en = phq9.safety_message_en
    phq9.safety_message_en = "Edited too"
    phq9.save()
    load_demo("--no-link")
    item.refresh_from_db()
    phq9.refresh_from_db()
    assert item.text_en == "How long did you wait in the waiting room?"
    assert phq9.safety_message_en == safety_en
    assert QuestionnaireVersion.objects.filter(questionnaire__code__in=["phq9", "visite"]).count() == 2


def library_items(definition: dict) -> list[dict]:
    return [child for group in definition["item"] for child in group.get("item", [])]


def library_items_source(code: str) -> list[dict]:
    return library.instrument_definition(code)["item"]


@pytest.mark.django_db
def test_demo_content_covers_conditions_types_and_both_languages():
    load_demo("--no-link")
    # PHQ-9 is the library's (surveys/interop/instruments/phq9.json), imported whole.
    phq9 = QuestionnaireVersion.objects.get(questionnaire__code="phq9")
    assert phq9.definition["item"] == library_items_source("phq9")
    items = {node["linkId"]: node for node in library_items(phq9.definition)}
    assert list(items) == [f"phq9_{n}" for n in range(1, 11)]
    assert len(items["phq9_10"]["enableWhen"]) == 9
    assert EnableCondition.objects.filter(item__link_id="visit_improve", operator="<", answer="7").exists()
    visit_types = set(Item.objects.filter(questionnaire__code="visite").values_list("type", flat=True))
    assert {"yes_no", "nrs", "single", "vas", "date", "short_text", "long_text"} <= visit_types
    assert not Item.objects.filter(text_fr="").exists()
    assert not Item.objects.filter(text_en="").exists()


@pytest.mark.django_db
def test_demo_assignments_follow_the_schedule_from_a_stable_enrolment():
    load_demo("--no-link")
    enrolled = {e.participant.pseudonym: e.enrolled_at for e in Enrollment.objects.select_related("participant")}
    due = dict(Assignment.objects.values_list("pk", "due_at"))
    enrolled_at = {e.participant_id: e.enrolled_at for e in Enrollment.objects.all()}
    for assignment in Assignment.objects.select_related("timepoint"):
        timepoint = assignment.timepoint
        start = enrolled_at[assignment.participant_id]
        assert (assignment.due_at - start).days == timepoint.offset
        assert (assignment.expires_at - assignment.due_at).days == timepoint.window
        expected = Assignment.Status.OPEN if timepoint.offset == 0 else Assignment.Status.PLANNED
        assert assignment.status == expected
    load_demo("--no-link")
    assert {
        e.participant.pseudonym: e.enrolled_at for e in Enrollment.objects.select_related("participant")
    } == enrolled
    assert dict(Assignment.objects.values_list("pk", "due_at")) == due


@pytest.mark.django_db
def test_demo_users_log_in_with_the_printed_passwords(client):
    credentials = printed_credentials(load_demo("--no-link"))
    assert set(credentials) == {"admin", "designer", "investigator", "data_manager", "reviewer", "patient_expert"}
    # A changed password is put back by the next load.
    User = get_user_model()
    designer = User.objects.get(username="designer")
    designer.set_password("something-else-entirely")
    designer.save()
    credentials = printed_credentials(load_demo("--no-link"))
    for username, password in credentials.items():
        assert client.login(username=username, password=password), username
        if username == "patient_expert":
            # The expert reviewer is not staff: their page lists the panel's open round, ready to review.
            home = client.get("/review/")
            assert home.status_code == 200
            assert "Relecture du questionnaire sur le sommeil" in home.content.decode()
        else:
            assert client.get("/admin/").status_code == 200
        client.logout()
    assert User.objects.get(username="admin").is_superuser
    assert not User.objects.filter(is_superuser=True).exclude(username="admin").exists()


@pytest.mark.django_db
def test_printed_patient_link_opens_the_first_patients_baseline(client):
    output = load_demo()
    path = printed_patient_path(output)
    assert "DEMO-0001, timepoint baseline" in output
    answer = client.get(path)
    assert answer.status_code == 200
    assert "plaisir à faire les choses" in answer.content.decode()


@pytest.mark.django_db
def test_the_patient_link_stays_the_same_across_loads(client):
    first = printed_patient_path(load_demo())
    second = printed_patient_path(load_demo())
    # One link per assignment, the same in every message and every printout.
    assert first == second
    assert client.get(first).status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(
    not (os.environ.get("RESSENTI_SLOW_TESTS") or os.environ.get("CI")),
    reason="slow (~20 s): set RESSENTI_SLOW_TESTS=1",
)
def test_run_demo_serves_then_stops_both_processes_on_sigterm(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("RESSENTI_SITE_URL", None)
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=BASE_DIR)
    subprocess.run([*manage, "load_demo", "--no-link"], env=env, check=True, cwd=BASE_DIR, capture_output=True)
    log = tmp_path / "run_demo.log"
    with log.open("w") as out:
        process = subprocess.Popen([*manage, "run_demo"], env=env, cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while "Running." not in log.read_text():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            text = log.read_text()
            patient_url = re.search(r"Patient link:\s+(\S+)", text).group(1)
            assert patient_url.startswith(f"http://127.0.0.1:{port}/s/")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=5) as answer:
                assert answer.status == 200
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2)
