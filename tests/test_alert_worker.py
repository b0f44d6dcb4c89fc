"""A real Celery worker on Redis e-mails the alerts of a submitted response, once.

The submit commits, its on_commit hook enqueues the e-mail task on Redis, and a worker process
(its own queue, the test database) sends through Django's file-based e-mail backend into a
folder this test reads.
"""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import time
import uuid
from email import policy
from pathlib import Path

import pytest
import redis
from django.db import connection

from surveys.models import Alert
from surveys.services import questionnaire_publish, response_save_page, response_submit
from surveys.tasks import alerts_notify_task
from tests.conftest import need_service
from tests.test_alerts import build
from tests.test_celery_worker import _database_url

pytestmark = pytest.mark.services

WAIT_SECONDS = 30


@pytest.fixture
def mail_worker(redis_url, transactional_db, tmp_path, settings):
    need_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "a worker process cannot share an SQLite in-memory test database; set DATABASE_URL=postgres://...",
    )
    queue = f"test-alerts-{uuid.uuid4().hex[:12]}"
    # Alert e-mails go to the queue of the send tasks: ours alone, so nothing else feeds this worker.
    settings.MESSAGES_SEND_QUEUE = queue
    outbox = tmp_path / "mail"
    outbox.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(outbox),
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "worker.log"
    log = log_path.open("w+")
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--pool=solo", "--concurrency=1", "--without-mingle", "--without-gossip", "--without-heartbeat",
        "-Q", queue, "--loglevel=INFO", "--hostname", f"{queue}@%h",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )

    def log_tail() -> str:
        log.flush()
        return log_path.read_text(errors="replace")[-4000:]

    try:
        yield queue, proc, outbox, log_tail
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()
        client = redis.Redis.from_url(redis_url)
        stale = list(client.scan_iter(match=f"*{queue}*"))
        if stale:
            client.delete(*stale)
        client.close()


def wait_for(check, proc, log_tail, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        assert proc.poll() is None, f"the worker exited with {proc.returncode}:\n{log_tail()}"
        time.sleep(0.25)
    raise AssertionError(f"{what} not within {WAIT_SECONDS} s; worker log:\n{log_tail()}")


def sent_messages(outbox: Path) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(outbox.iterdir()):
        # The file backend writes each message followed by a line of 79 dashes.
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                found.append(email.message_from_bytes(chunk.lstrip(b"\n"), policy=policy.default))
    return found


def test_real_worker_emails_the_alert_of_a_submitted_response_once(make, mail_worker):
    queue, proc, outbox, log_tail = mail_worker
    study = make.study(title="Humeur")
    investigator = make.user(username="investigatrice")
    make.member(user=investigator, study=study, role="investigator")
    version = questionnaire_publish(questionnaire=build(make, study=study), by=None)
    participant = make.participant(study=study, language="fr")
    assignment = make.assignment(participant=participant, timepoint=make.timepoint(version=version))
    response_save_page(assignment=assignment, answers={"q1": "a1", "q9": "a3", "note": "Mon voisin Jean"},
                       page_index=0, advance=True)

    response_submit(assignment=assignment)  # commits; on_commit hands the e-mail task to Redis

    messages = wait_for(lambda: sent_messages(outbox), proc, log_tail, "no e-mail")
    assert len(messages) == 1
    message = messages[0]
    assert message["To"] == "investigatrice@example.org"
    assert study.code in message["Subject"] and "item9" in message["Subject"]
    assert participant.pseudonym in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert participant.pseudonym in body and "Idées noires (item 9)" in body and "Dark thoughts" in body
        for leaked in ("a3", "Presque tous les jours", "Nearly every day", "Mon voisin"):
            assert leaked not in body
    alert = Alert.objects.get()
    assert alert.notified_at is not None

    # The task delivered again (a retry, a second worker): nothing more is sent.
    alerts_notify_task.apply_async(args=[[alert.pk]], queue=queue)
    wait_for(lambda: log_tail().count("succeeded") >= 2, proc, log_tail, "the second run")
    assert len(sent_messages(outbox)) == 1

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, f"the worker did not stop cleanly:\n{log_tail()}"
