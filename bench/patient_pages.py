"""Patient page benchmark: bytes and SQL queries per page, and requests per second under
gunicorn for a page view and a page submit, each as a ratio to a trivial Django view
measured in the same run (machines here are noisy; ratios travel, absolute numbers don't).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ressenti_bench .venv/bin/python bench/patient_pages.py

Writes bench/results/patient_pages.json and prints a table.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
PORT = int(os.environ.get("BENCH_PORT", "8797"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))


def setup_data() -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    from django.test import Client

    from surveys.answering.links import assignment_link_token
    from surveys.questionnaires.publish import questionnaire_publish
    from tests import factories

    run = str(int(time.time()))
    study = factories.study(code=f"bench{run}")
    q = factories.every_type_questionnaire(study=study)
    version = questionnaire_publish(questionnaire=q, by=None)
    tp = factories.timepoint(version=version)
    tokens = []
    for _ in range(CLIENTS + 2):
        a = factories.assignment(participant=factories.participant(study=study, language="fr"), timepoint=tp)
        tokens.append(assignment_link_token(assignment=a))

    # Queries per page, for this questionnaire and for one five times larger.
    big = factories.questionnaire(study=study)
    page = factories.section(questionnaire=big, link_id="p1", order=1)
    for i in range(50):
        factories.item(questionnaire=big, link_id=f"q{i}", section=page, options=factories.YES_NO_SOMETIMES)
    big_version = questionnaire_publish(questionnaire=big, by=None)
    big_a = factories.assignment(
        participant=factories.participant(study=study), timepoint=factories.timepoint(version=big_version)
    )
    big_token = assignment_link_token(assignment=big_a)
    client = Client()
    counts = {}
    for label, token in (("every-type page (6 items)", tokens[-1]), ("50-item page", big_token)):
        with CaptureQueriesContext(connection) as ctx:
            client.get(f"/s/{token}")
        counts[label] = len(ctx.captured_queries)
    return {"tokens": tokens, "queries": counts}


def fetch(
    conn: http.client.HTTPConnection, method: str, path: str, body: str | None = None, headers: dict | None = None
) -> tuple[int, bytes, dict]:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    return response.status, data, dict(response.getheaders())


def page_weight(token: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    status, html, headers = fetch(conn, "GET", f"/s/{token}", headers={"Accept-Encoding": "gzip"})
    assert status == 200, status
    sizes = {"html": len(html), "html_encoding": headers.get("Content-Encoding", "identity")}
    raw_html = gzip.decompress(html) if sizes["html_encoding"] == "gzip" else html
    sizes["html_uncompressed"] = len(raw_html)
    for kind, pattern in (("css", rb'href="([^"]+\.css)"'), ("js", rb'src="([^"]+\.js)"')):
        path = re.search(pattern, raw_html).group(1).decode()
        status, body, headers = fetch(conn, "GET", path, headers={"Accept-Encoding": "gzip"})
        assert status == 200, (path, status)
        sizes[kind] = len(body)
        sizes[f"{kind}_encoding"] = headers.get("Content-Encoding", "identity")
    sizes["total"] = sizes["html"] + sizes["css"] + sizes["js"]
    conn.close()
    return sizes


def load(make_request, seconds: float, clients: int) -> float:
    """Requests per second with `clients` keep-alive connections for `seconds`."""
    stop = time.monotonic() + seconds
    counts = [0] * clients
    errors: list[str] = []

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        state: dict = {}
        while time.monotonic() < stop:
            try:
                make_request(conn, i, state)
                counts[i] += 1
            except Exception as exc:  # noqa: BLE001 - reported below, the run is then invalid
                errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, first: {errors[0]}")
    return sum(counts) / (time.monotonic() - started)


def main() -> None:
    data = setup_data()
    tokens = data["tokens"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            "2",
            "--access-logfile",
            "/dev/null",
            "--error-logfile",
            "-",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/bench/ping")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        weight = page_weight(tokens[0])

        def ping(conn, i, state):
            status, _b, _h = fetch(conn, "GET", "/bench/ping")
            assert status == 200

        def view(conn, i, state):
            status, _b, _h = fetch(conn, "GET", f"/s/{tokens[i]}?p=1")
            assert status == 200, status

        def submit(conn, i, state):
            if "csrf" not in state:
                _s, body, headers = fetch(conn, "GET", f"/s/{tokens[i]}?p=1")
                state["cookie"] = headers["Set-Cookie"].split(";")[0]
                state["csrf"] = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
            body = urlencode(
                {
                    "csrfmiddlewaretoken": state["csrf"],
                    "page": "1",
                    "action": "next",
                    "mood": "a1",
                    "help": "gp",
                    "smoker": "false",
                    "shown": "intro mood help smoker",
                }
            )
            status, _b, _h = fetch(
                conn,
                "POST",
                f"/s/{tokens[i]}",
                body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": state["cookie"]},
            )
            assert status == 302, status

        rps = {}
        for name, fn in (("trivial view", ping), ("page view", view), ("page submit", submit)):
            load(fn, 1.0, CLIENTS)  # warm-up
            rps[name] = load(fn, SECONDS, CLIENTS)
    finally:
        server.terminate()
        server.wait(timeout=15)

    from django.db import connection

    result = {
        "database": connection.vendor,
        "gunicorn_workers": 2,
        "clients": CLIENTS,
        "seconds": SECONDS,
        "bytes": weight,
        "queries_per_page": data["queries"],
        "requests_per_second": {k: round(v, 1) for k, v in rps.items()},
        "ratio_to_trivial_view": {k: round(v / rps["trivial view"], 3) for k, v in rps.items()},
    }
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "patient_pages.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
