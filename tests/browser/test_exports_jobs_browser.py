"""A background export's page in Chromium, JavaScript on and off: an accessible progress bar that
moves on by itself (polling with JavaScript, reloading without), then the download link."""

import pytest
from django.conf import settings
from django.test import Client

from config.celery import app
from surveys.exports.jobs import export_job_run, export_job_start
from surveys.exports.spec import ExportSpec
from surveys.models import ExportJob
from tests import factories
from tests.browser.conftest import check_page

pytestmark = pytest.mark.browser


@pytest.fixture
def exports_root(tmp_path, settings):
    settings.EXPORTS_ROOT = str(tmp_path / "exports")


def test_the_job_page_shows_progress_then_the_download(phone, make, live_server, exports_root):
    study = make.study(code="xb")
    version = make.published_version(study=study)
    timepoint = make.timepoint(version=version, code="t0")
    participant = make.participant(study=study, pseudonym="XB-0001")
    make.response(
        assignment=make.assignment(participant=participant, timepoint=timepoint),
        status="completed",
        answers={"mood": "a1"},
    )
    user = make.user()
    factories.member(user=user, study=study, role="data_manager")
    # Kombu's in-memory transport: a real broker, private to this test.
    with app.connection_for_write("memory://") as broker:
        job = export_job_start(spec=ExportSpec(study_id=study.pk, format="wide_csv"), by=user, broker=broker)
    page = phone(locale="en-GB")
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])

    page.goto(f"/staff/studies/{study.code}/exports/{job.pk}/")

    progress = page.get_by_role("progressbar", name="Progress")
    assert progress.is_visible()
    assert page.get_by_role("status").inner_text().startswith("Waiting for a worker")
    check_page(page, "export-job-pending", javascript=phone.javascript)

    assert export_job_run(job_id=job.pk) == "done"

    # No click: the script's polling (or the page's own refresh without JavaScript) brings the link.
    link = page.get_by_role("link", name=f"Download {ExportJob.objects.get(pk=job.pk).filename}")
    link.wait_for(timeout=15000)
    assert page.get_by_role("progressbar").count() == 0
    check_page(page, "export-job-done", javascript=phone.javascript)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # the 64-character hash wraps
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".csv")

    page.goto(f"/staff/studies/{study.code}/exports/")
    assert page.get_by_role("button", name="Prepare in the background").is_visible()
    check_page(page, "exports", javascript=phone.javascript)
