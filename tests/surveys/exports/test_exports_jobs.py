"""Export jobs: every export audited with the hash of its bytes; small ones streamed, large ones run once,
written under a temporary name, swept when their worker died, expired; the pages check the permission.

Background jobs run here in-process through the same service the Celery task calls; a real worker on
Redis runs them in tests/surveys/exports/test_exports_jobs_worker.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from surveys.exports.jobs import (
    export_files_expire,
    export_job_run,
    export_job_start,
    export_jobs_sweep,
    export_stream,
)
from surveys.exports.spec import ExportSpec
from surveys.exports.writers import export_write
from surveys.models import ExportJob, StudyMembership

S = ExportJob.Status


@pytest.fixture(autouse=True)
def exports_root(tmp_path, settings) -> Path:
    root = tmp_path / "exports"
    settings.EXPORTS_ROOT = str(root)
    return root


def build(make, *, responses: int = 3, code: str = "xj", site=None):
    """A study with one published questionnaire and `responses` submitted responses."""
    study = make.study(code=code)
    version = make.published_version(study=study)
    timepoint = make.timepoint(version=version, code="t0")
    for n in range(responses):
        participant = make.participant(study=study, pseudonym=f"{code.upper()}-{n:04d}", site=site)
        assignment = make.assignment(participant=participant, timepoint=timepoint)
        make.response(assignment=assignment, status="completed", answers={"mood": "a1", "pain": n % 11})
    return study


def member(make, study, role: str, **kw):
    user = make.user()
    make.member(user=user, study=study, role=role, **kw)
    return user


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FORM = {"format": "long_csv", "labels": "codes", "language": "en", "dates": "exact"}


def page(study) -> str:
    return reverse("surveys:exports", args=[study.code])


def job_urls(job) -> dict[str, str]:
    args = [job.study.code, job.pk]
    return {
        "page": reverse("surveys:export_job", args=args),
        "status": reverse("surveys:export_job_status", args=args),
        "download": reverse("surveys:export_job_download", args=args),
    }


# --- streamed from the request -----------------------------------------------------------------------


def test_a_small_export_streams_and_its_audit_hash_is_that_of_the_bytes_received(make, client, exports_root):
    study = build(make)
    user = member(make, study, "data_manager")
    client.force_login(user)

    response = client.post(page(study), FORM)

    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"].startswith("attachment;") and ".csv" in response["Content-Disposition"]
    received = b"".join(response.streaming_content)
    job = ExportJob.objects.get(pk=response["X-Export-Id"])
    assert (job.status, job.mode, job.requested_by, job.study) == (S.DONE, "inline", user, study)
    assert job.sha256 == sha(received) and job.size_bytes == len(received)
    lines = list(csv.reader(io.StringIO(received.decode())))
    assert job.rows == len(lines) - 1 > 0
    assert job.spec["format"] == "long_csv" and job.spec["study_id"] == study.pk and job.spec["language"] == "en"
    assert job.file_path == "" and files_under(exports_root) == []  # streamed: no file kept
    assert ExportJob.objects.count() == 1


def test_the_stream_hands_over_small_chunks_and_hashes_exactly_what_it_sent(make):
    study = build(make, responses=20)
    user = make.user()
    spec = ExportSpec(study_id=study.pk, format="long_csv")
    whole = io.BytesIO()
    export_write(spec=spec, out=whole)

    stream = export_stream(spec=spec, by=user, chunk_size=256)
    chunks = list(stream)
    stream.close()  # what the server does at the end: nothing changes any more

    assert len(chunks) > 3 and all(len(c) >= 256 for c in chunks[:-1])
    assert b"".join(chunks) == whole.getvalue()
    job = ExportJob.objects.get(pk=stream.job.pk)
    assert job.status == S.DONE and job.sha256 == sha(whole.getvalue()) and job.size_bytes == len(whole.getvalue())


def test_a_download_stopped_early_is_recorded_as_interrupted_with_the_hash_of_what_was_sent(make):
    study = build(make, responses=20)
    stream = export_stream(spec=ExportSpec(study_id=study.pk, format="long_csv"), by=make.user(), chunk_size=128)

    first = next(stream)
    stream.close()  # the browser went away: the server closes the response

    job = ExportJob.objects.get(pk=stream.job.pk)
    assert job.status == S.INCOMPLETE
    assert job.size_bytes == len(first) and job.sha256 == sha(first)
    assert "stopped after" in job.error
    assert stream._producer.dead  # the writer was unwound, not left suspended
    with pytest.raises(StopIteration):
        next(stream)


def test_a_stream_closed_before_its_first_byte_is_recorded_too(make):
    study = build(make, responses=1)
    stream = export_stream(spec=ExportSpec(study_id=study.pk, format="wide_csv"), by=make.user())
    stream.close()
    job = ExportJob.objects.get(pk=stream.job.pk)
    assert job.status == S.INCOMPLETE and job.size_bytes == 0 and job.sha256 == sha(b"")


def test_a_stream_whose_request_vanished_is_marked_interrupted_by_the_sweep(make):
    study = build(make, responses=1)
    stream = export_stream(spec=ExportSpec(study_id=study.pk), by=make.user())
    ExportJob.objects.filter(pk=stream.job.pk).update(started_at=timezone.now() - timedelta(hours=2))

    report = export_jobs_sweep(now=timezone.now())

    assert report.abandoned == 1
    assert ExportJob.objects.get(pk=stream.job.pk).status == S.INCOMPLETE


# --- background jobs ----------------------------------------------------------------------------------


def test_a_large_export_becomes_a_job_whose_page_shows_progress_then_a_download_matching_the_audit(
    make, client, settings, exports_root
):
    settings.EXPORTS_INLINE_MAX_RESPONSES = 2
    study = build(make, responses=3)
    user = member(make, study, "data_manager")
    client.force_login(user)

    response = client.post(page(study), {**FORM, "format": "wide_csv"})

    job = ExportJob.objects.get()
    urls = job_urls(job)
    assert response.status_code == 302 and response["Location"] == urls["page"]
    assert (job.mode, job.status, job.requested_by) == ("async", S.PENDING, user)
    html = client.get(urls["page"]).content.decode()
    assert "<progress" in html and "Waiting for a worker" in html
    assert '<noscript><meta http-equiv="refresh"' in html and "export-progress.js" in html  # works without JS
    status = client.get(urls["status"]).json()
    assert status["status"] == "pending" and status["download_url"] is None
    assert client.get(urls["download"]).status_code == 409  # not ready yet

    assert export_job_run(job_id=job.pk) == "done"

    job.refresh_from_db()
    status = client.get(urls["status"]).json()
    assert status["status"] == "done" and status["percent"] == 100 and status["download_url"] == urls["download"]
    assert job.progress_done == job.progress_total == 3 and job.rows == 3
    html = client.get(urls["page"]).content.decode()
    assert "<progress" not in html and urls["download"] in html and job.sha256 in html
    download = client.get(urls["download"])
    body = b"".join(download.streaming_content)
    assert download.status_code == 200 and download["X-Export-Id"] == str(job.pk)
    assert sha(body) == job.sha256 and len(body) == job.size_bytes
    assert download["Content-Type"].startswith("text/csv")
    job.refresh_from_db()
    assert job.downloads == 1 and job.last_downloaded_at is not None
    # The file is in the private folder, under the job's own name; nothing else is left there.
    assert files_under(exports_root) == [exports_root / job.file_path]
    assert job.expires_at - job.finished_at == timedelta(days=settings.EXPORTS_EXPIRE_DAYS)


def test_background_is_also_chosen_on_request_for_a_small_export(make, client):
    study = build(make, responses=1)
    client.force_login(member(make, study, "data_manager"))
    response = client.post(page(study), {**FORM, "background": "1"})
    assert response.status_code == 302
    assert ExportJob.objects.get().mode == "async"


def test_a_task_delivered_twice_writes_one_file_and_one_audit_row(make, exports_root):
    study = build(make)
    job = export_job_start(spec=ExportSpec(study_id=study.pk, format="sav"), by=make.user())

    first = export_job_run(job_id=job.pk)
    second = export_job_run(job_id=job.pk)  # a redelivered message, or a second worker

    assert (first, second) == ("done", "skipped")
    job.refresh_from_db()
    assert ExportJob.objects.count() == 1 and job.attempts == 1
    assert files_under(exports_root) == [exports_root / job.file_path]
    assert sha((exports_root / job.file_path).read_bytes()) == job.sha256
    assert job.file_path.endswith(".sav")


def test_a_job_whose_worker_died_goes_back_to_pending_and_the_next_run_leaves_one_file(make, exports_root, settings):
    study = build(make)
    job = export_job_start(spec=ExportSpec(study_id=study.pk, format="wide_csv"), by=make.user())
    # A worker claimed it, wrote part of its file, and was killed: no heartbeat since.
    dead = "0" * 32
    long_ago = timezone.now() - timedelta(seconds=settings.EXPORTS_STALE_SECONDS + 5)
    ExportJob.objects.filter(pk=job.pk).update(
        status=S.RUNNING, claim=dead, attempts=1, started_at=long_ago, heartbeat_at=long_ago
    )
    part = exports_root / str(study.pk) / f"{job.pk}-{dead}.csv.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"pseudonym,site\nXJ-0000,")
    os.utime(part, (long_ago.timestamp(), long_ago.timestamp()))
    assert client_visible_download(job) is None  # a half file is never offered

    enqueued: list[int] = []
    report = export_jobs_sweep(now=timezone.now(), enqueue=lambda pk: enqueued.append(pk) or True)

    assert (report.requeued, report.enqueued, enqueued) == (1, 1, [job.pk])  # handed to the broker at once
    job.refresh_from_db()
    assert (job.status, job.claim) == (S.PENDING, "")
    assert export_job_run(job_id=job.pk) == "done"
    assert export_files_expire(now=timezone.now()) == {"expired": 0, "orphans": 1}
    job.refresh_from_db()
    assert job.attempts == 2 and job.status == S.DONE
    assert files_under(exports_root) == [exports_root / job.file_path]
    assert sha((exports_root / job.file_path).read_bytes()) == job.sha256


def client_visible_download(job) -> str | None:
    job.refresh_from_db()
    return job.file_path or None


def test_a_job_whose_worker_keeps_dying_fails_with_the_reason(make, settings, client):
    study = build(make, responses=1)
    user = member(make, study, "data_manager")
    job = export_job_start(spec=ExportSpec(study_id=study.pk), by=user)
    long_ago = timezone.now() - timedelta(seconds=settings.EXPORTS_STALE_SECONDS + 5)
    ExportJob.objects.filter(pk=job.pk).update(
        status=S.RUNNING, claim="x" * 32, heartbeat_at=long_ago, attempts=settings.EXPORTS_MAX_ATTEMPTS
    )

    assert export_jobs_sweep(now=timezone.now()).failed == 1

    job.refresh_from_db()
    assert job.status == S.FAILED and "stopped during this export 3 times" in job.error
    assert export_job_run(job_id=job.pk) == "skipped"
    client.force_login(user)
    html = client.get(job_urls(job)["page"]).content.decode()
    assert "This export failed" in html and "3 times" in html


def test_a_job_with_a_spec_that_cannot_run_fails_and_says_why(make, exports_root):
    study = build(make, responses=1)
    job = export_job_start(spec=ExportSpec(study_id=study.pk), by=make.user())
    ExportJob.objects.filter(pk=job.pk).update(spec={**job.spec, "questionnaires": ["gone"]})

    assert export_job_run(job_id=job.pk) == "failed"

    job.refresh_from_db()
    assert job.status == S.FAILED and "gone" in job.error and job.file_path == ""
    assert files_under(exports_root) == []


def test_the_sweep_leaves_young_pending_jobs_and_live_runs_alone(make):
    study = build(make, responses=1)
    job = export_job_start(spec=ExportSpec(study_id=study.pk), by=make.user())
    running = export_job_start(spec=ExportSpec(study_id=study.pk), by=make.user())
    ExportJob.objects.filter(pk=running.pk).update(status=S.RUNNING, claim="y" * 32, heartbeat_at=timezone.now())

    report = export_jobs_sweep(now=timezone.now())

    assert report.to_dict() == {"requeued": 0, "failed": 0, "abandoned": 0, "enqueued": 0}
    assert ExportJob.objects.get(pk=job.pk).status == S.PENDING
    assert ExportJob.objects.get(pk=running.pk).status == S.RUNNING


# --- expiry ---------------------------------------------------------------------------------------------


def test_an_expired_export_says_so_and_its_file_is_deleted_by_the_beat_task(make, client, exports_root):
    study = build(make, responses=2)
    user = member(make, study, "data_manager")
    kept = export_job_start(spec=ExportSpec(study_id=study.pk), by=user)
    old = export_job_start(spec=ExportSpec(study_id=study.pk, format="wide_csv"), by=user)
    export_job_run(job_id=kept.pk)
    export_job_run(job_id=old.pk)
    ExportJob.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(user)

    # Past its date the file is refused at once, before the beat task has deleted it.
    response = client.get(job_urls(old)["download"])
    assert response.status_code == 410 and "expired on" in response.content.decode()

    assert export_files_expire(now=timezone.now()) == {"expired": 1, "orphans": 0}

    old.refresh_from_db()
    kept.refresh_from_db()
    assert old.status == S.EXPIRED and old.file_path == "" and old.sha256  # the audit keeps the hash
    assert files_under(exports_root) == [exports_root / kept.file_path]
    response = client.get(job_urls(old)["download"])
    assert response.status_code == 410 and "its file was deleted" in response.content.decode()
    assert "expired on" in client.get(job_urls(old)["page"]).content.decode()
    assert client.get(job_urls(old)["status"]).json()["status"] == "expired"
    assert client.get(job_urls(kept)["download"]).status_code == 200


# --- who may ------------------------------------------------------------------------------------------


def test_only_those_allowed_to_export_reach_the_page(make, client):
    study = build(make, responses=1)
    other = build(make, responses=1, code="other")
    cases = {
        member(make, study, "data_manager"): 200,
        member(make, study, "designer"): 403,
        member(make, study, "investigator"): 403,  # the study does not allow it (yet)
        member(make, other, "data_manager"): 404,  # another study's data manager
        make.user(): 404,
    }
    for user, expected in cases.items():
        client.force_login(user)
        assert client.get(page(study)).status_code == expected, user.study_memberships.values_list("role")
        assert client.post(page(study), FORM).status_code == expected
    assert ExportJob.objects.filter(study=study).count() == 1  # the data manager's POST only
    client.logout()
    assert client.get(page(study)).status_code == 302  # to the sign-in page


def test_investigators_export_when_the_study_allows_it(make, client):
    study = build(make, responses=1)
    investigator = member(make, study, "investigator")
    study.investigators_can_export = True
    study.save()
    client.force_login(investigator)
    assert client.get(page(study)).status_code == 200
    response = client.post(page(study), FORM)
    assert response.status_code == 200 and b"".join(response.streaming_content)
    assert ExportJob.objects.get().requested_by == investigator


def test_a_job_is_reached_by_its_requester_only_and_while_still_allowed(make, client):
    study = build(make, responses=1)
    owner = member(make, study, "data_manager")
    colleague = member(make, study, "data_manager")
    stranger = member(make, build(make, responses=1, code="other"), "data_manager")
    job = export_job_start(spec=ExportSpec(study_id=study.pk), by=owner)
    export_job_run(job_id=job.pk)
    urls = job_urls(job)

    for user in (colleague, stranger):
        client.force_login(user)
        assert [client.get(url).status_code for url in urls.values()] == [404, 404, 404]
    # Another study's URL for the same job: not found either.
    client.force_login(owner)
    assert client.get(reverse("surveys:export_job_download", args=["other", job.pk])).status_code == 404
    assert client.get(urls["download"]).status_code == 200

    StudyMembership.objects.filter(user=owner).delete()
    client.force_login(owner)
    assert [client.get(url).status_code for url in urls.values()] == [404, 404, 404]


def test_a_site_limited_member_exports_their_site_only_and_the_audit_says_so(make, client):
    study = make.study(code="sites")
    version = make.published_version(study=study)
    timepoint = make.timepoint(version=version, code="t0")
    north, south = make.site(study=study, code="north"), make.site(study=study, code="south")
    for site in (north, south):
        participant = make.participant(study=study, pseudonym=f"P-{site.code}", site=site)
        make.response(
            assignment=make.assignment(participant=participant, timepoint=timepoint),
            status="completed",
            answers={"mood": "a1"},
        )
    client.force_login(member(make, study, "data_manager", site=north))

    response = client.post(page(study), FORM)

    text = b"".join(response.streaming_content).decode()
    assert "P-north" in text and "P-south" not in text
    assert ExportJob.objects.get().spec["sites"] == [north.pk]


def test_a_bad_choice_is_refused_with_the_field_named_and_nothing_exported(make, client):
    study = build(make, responses=1)
    client.force_login(member(make, study, "data_manager"))
    response = client.post(page(study), {**FORM, "format": "pdf"})
    assert response.status_code == 400 and "pdf" in response.content.decode()
    response = client.post(page(study), {**FORM, "format": "fhir_ndjson", "dates": "days_since_enrolment"})
    assert response.status_code == 400 and "FHIR responses carry dates" in response.content.decode()
    assert ExportJob.objects.count() == 0


def test_the_page_lists_the_study_export_log_with_hashes(make, client):
    study = build(make, responses=1)
    user = member(make, study, "data_manager")
    client.force_login(user)
    b"".join(client.post(page(study), FORM).streaming_content)
    job = ExportJob.objects.get()

    html = client.get(page(study)).content.decode()

    assert job.sha256 in html and user.username in html and "Streamed from the page" in html


def test_the_page_speaks_french(make, client):
    study = build(make, responses=1)
    client.force_login(member(make, study, "data_manager"))
    html = client.get(page(study), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Nouvel export" in html and "Journal des exports" in html


def test_heartbeat_and_progress_reach_the_row_while_a_run_holds_it(make, transactional_db, monkeypatch):
    # The runner's thread writes on its own connection: visible to others while the export runs.
    from surveys.exports import jobs

    monkeypatch.setattr(jobs, "PROGRESS_SECONDS", 0.05)
    study = build(make, responses=1)
    job = export_job_start(spec=ExportSpec(study_id=study.pk), by=make.user())
    ExportJob.objects.filter(pk=job.pk).update(status=S.RUNNING, claim="z" * 32)
    runner = jobs._Runner(job_id=job.pk, claim="z" * 32)
    with runner:
        runner.progress(5, 10)
        time.sleep(0.5)
        job.refresh_from_db()
        assert (job.progress_done, job.progress_total, job.percent) == (5, 10, 50)
        assert job.heartbeat_at is not None
        # Someone else took the job: the next progress call stops the writer.
        ExportJob.objects.filter(pk=job.pk).update(claim="w" * 32)
        time.sleep(0.5)
        with pytest.raises(jobs._ClaimLost):
            runner.progress(6, 10)


def test_the_sweep_enqueues_jobs_the_broker_never_got_and_tasks_lost_long_ago(make, settings):
    study = build(make, responses=1)
    by = make.user()
    never = export_job_start(spec=ExportSpec(study_id=study.pk), by=by)  # broker down at commit: no enqueued_at
    lost = export_job_start(spec=ExportSpec(study_id=study.pk), by=by)
    waiting = export_job_start(spec=ExportSpec(study_id=study.pk), by=by)
    young = export_job_start(spec=ExportSpec(study_id=study.pk), by=by)
    now = timezone.now()
    ExportJob.objects.exclude(pk=young.pk).update(created_at=now - timedelta(hours=1))
    ExportJob.objects.filter(pk=lost.pk).update(
        enqueued_at=now - timedelta(seconds=settings.EXPORTS_REQUEUE_SECONDS + 1)
    )
    ExportJob.objects.filter(pk=waiting.pk).update(enqueued_at=now - timedelta(seconds=10))  # in the queue
    enqueued: list[int] = []

    report = export_jobs_sweep(now=now, enqueue=lambda pk: enqueued.append(pk) or True)

    assert sorted(enqueued) == sorted([never.pk, lost.pk]) and report.enqueued == 2


def test_the_study_admin_links_to_the_export_page_for_those_who_may_export(make, client):
    study = build(make, responses=0)
    client.force_login(member(make, study, "data_manager"))
    assert page(study) in client.get(reverse("admin:surveys_study_changelist")).content.decode()
    assert page(study) in client.get(reverse("admin:surveys_study_change", args=[study.pk])).content.decode()
    client.force_login(member(make, study, "designer"))
    assert page(study) not in client.get(reverse("admin:surveys_study_changelist")).content.decode()


def test_the_expiry_task_spares_the_file_of_a_run_still_holding_its_job(make, exports_root, settings):
    study = build(make, responses=1)
    job = export_job_start(spec=ExportSpec(study_id=study.pk, format="sav"), by=make.user())
    claim = "c" * 32
    ExportJob.objects.filter(pk=job.pk).update(status=S.RUNNING, claim=claim, heartbeat_at=timezone.now())
    # A .sav is written at the end: its .part stays empty and old while the run gathers the rows.
    part = exports_root / str(study.pk) / f"{job.pk}-{claim}.sav.part"
    part.parent.mkdir(parents=True)
    part.touch()
    long_ago = time.time() - settings.EXPORTS_STALE_SECONDS - 60
    os.utime(part, (long_ago, long_ago))

    assert export_files_expire(now=timezone.now()) == {"expired": 0, "orphans": 0}
    assert part.exists()
