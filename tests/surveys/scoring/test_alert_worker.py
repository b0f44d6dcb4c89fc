"""A real Celery worker on Redis e-mails the alerts of a submitted response, once.

The submit commits, its on_commit hook enqueues the e-mail task on Redis, and a worker process
(its own queue, the test database) sends through Django's file-based e-mail backend into a
folder this test reads.
"""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from surveys.answering.submit import response_save_page, response_submit
from surveys.models import Alert
from surveys.questionnaires.publish import questionnaire_publish
from surveys.tasks import alerts_notify_task
from tests.surveys.scoring.test_alerts import build
from tests.workers import new_queue, wait_for, worker_pool

pytestmark = pytest.mark.services

WAIT_SECONDS = 30


@pytest.fixture
def mail_worker(redis_url, transactional_db, tmp_path, settings):
    queue = new_queue("alerts")
    # Alert e-mails go to the queue of the send tasks: ours alone, so nothing else feeds this worker.
    settings.MESSAGES_SEND_QUEUE = queue
    outbox = tmp_path / "mail"
    outbox.mkdir()
    env = {"TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(outbox)}
    with worker_pool(redis_url=redis_url, queue=queue, env=env) as start:
        yield start(), outbox


def sent_messages(outbox: Path) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(outbox.iterdir()):
        # The file backend writes each message followed by a line of 79 dashes.
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                found.append(email.message_from_bytes(chunk.lstrip(b"\n"), policy=policy.default))
    return found


def test_real_worker_emails_the_alert_of_a_submitted_response_once(make, mail_worker):
    worker, outbox = mail_worker
    study = make.study(title="Humeur")
    investigator = make.user(username="investigatrice")
    make.member(user=investigator, study=study, role="investigator")
    version = questionnaire_publish(questionnaire=build(make, study=study), by=None)
    participant = make.participant(study=study, language="fr")
    assignment = make.assignment(participant=participant, timepoint=make.timepoint(version=version))
    response_save_page(
        assignment=assignment, answers={"q1": "a1", "q9": "a3", "note": "Mon voisin Jean"}, page_index=0, advance=True
    )

    response_submit(assignment=assignment)  # commits; on_commit hands the e-mail task to Redis

    messages = wait_for(lambda: sent_messages(outbox), "the e-mail", worker, timeout=WAIT_SECONDS)
    assert len(messages) == 1
    message = messages[0]
    assert message["To"] == "investigatrice@example.org"
    # The subject names the study only: no rule, no pseudonym (a lock screen shows it).
    assert study.code in message["Subject"]
    assert "item9" not in message["Subject"] and participant.pseudonym not in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert participant.pseudonym in body and "Idées noires (item 9)" in body and "Dark thoughts" in body
        for leaked in ("a3", "Presque tous les jours", "Nearly every day", "Mon voisin"):
            assert leaked not in body
    alert = Alert.objects.get()
    assert alert.notified_at is not None

    # The task delivered again (a retry, a second worker): nothing more is sent.
    alerts_notify_task.apply_async(args=[[alert.pk]], queue=worker.queue)
    wait_for(lambda: worker.tail().count("succeeded") >= 2, "the second run", worker, timeout=WAIT_SECONDS)
    assert len(sent_messages(outbox)) == 1

    assert worker.stop() == 0, "the worker did not stop cleanly"
