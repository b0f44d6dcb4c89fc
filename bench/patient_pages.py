"""Patient page benchmark: bytes and SQL statements per page, save and submit, and requests per second
under gunicorn (2 sync workers) driven by wrk, each as a ratio to a bare Django view served by the same
gunicorn through the same middleware, measured in the same run and interleaved (round after round, the
median of the per-round ratios): machines here are noisy, ratios travel, absolute numbers don't.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ressenti_bench REDIS_URL=redis://127.0.0.1:6379/3 \\
        .venv/bin/python bench/patient_pages.py [--rounds 5] [--seconds 5] [--connections 16]

Needs wrk (Debian package `wrk`). Writes bench/results/patient_pages.json and prints it.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
PORT = int(os.environ.get("BENCH_PORT", "8797"))
# Links per scenario: wrk spreads its requests over them, so concurrent saves rarely wait on one row lock.
LINKS = 64
BIG = 85


def _questionnaire_of(study, *, items: int, per_page: int):
    from tests import factories

    q = factories.questionnaire(study=study)
    for start in range(0, items, per_page):
        page = factories.section(questionnaire=q, link_id=f"p{start // per_page + 1}", order=start // per_page + 1)
        for i in range(start, min(start + per_page, items)):
            factories.item(questionnaire=q, link_id=f"q{i}", section=page, options=factories.YES_NO_SOMETIMES)
    return q


def setup_data() -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    from surveys.answering.links import assignment_link_token
    from surveys.questionnaires.publish import questionnaire_publish
    from tests import factories

    study = factories.study(code=f"bench{int(time.time())}")
    questionnaires = {
        "every type (page 1: 5 items)": factories.every_type_questionnaire(study=study),
        f"{BIG} items on one page": _questionnaire_of(study, items=BIG, per_page=BIG),
        f"10-item page of {BIG} items": _questionnaire_of(study, items=BIG, per_page=10),
    }
    tokens: dict[str, list[str]] = {}
    for label, q in questionnaires.items():
        timepoint = factories.timepoint(version=questionnaire_publish(questionnaire=q, by=None))
        tokens[label] = [
            assignment_link_token(
                assignment=factories.assignment(
                    participant=factories.participant(study=study, language="fr"), timepoint=timepoint
                )
            )
            for _ in range(LINKS + 3)
        ]
    return {"tokens": tokens, "statements": statements(tokens)}


EVERY_TYPE_PAGE_1 = {"page": "1", "action": "next", "mood": "a1", "help": "gp", "smoker": "false"}
EVERY_TYPE_PAGE_2 = {"page": "2", "action": "next", "cigs": "3", "weight": "70.5", "pain": "4", "health": "60"}


def statements(tokens: dict[str, list[str]]) -> dict:
    """SQL statements per page view, page save (first and later ones) and submit, in this process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    def count(client, method: str, path: str, data: dict | None = None) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path) if method == "GET" else client.post(path, data or {})
        return len(ctx.captured_queries), response.status_code

    out: dict[str, int] = {}
    for label, links in tokens.items():
        # The first view of a version in a process also reads its definition; later ones do not.
        out[f"first GET {label}"], status = count(Client(), "GET", f"/s/{links[-1]}?p=1")
        out[f"GET {label}"], status = count(Client(), "GET", f"/s/{links[-1]}?p=1")
        assert status == 200, (label, status)
    client = Client()
    token = tokens["every type (page 1: 5 items)"][-2]
    path = f"/s/{token}"
    page_1 = {**EVERY_TYPE_PAGE_1, "shown": "intro mood help smoker"}
    out["first page save"], status = count(client, "POST", path, page_1)
    assert status == 302, status
    out["page save again"], status = count(client, "POST", path, page_1)
    assert status == 302, status
    client.post(path, {**EVERY_TYPE_PAGE_2, "shown": "cigs weight pain health visit drug"})
    review = client.get(f"{path}?p=review")
    assert review.status_code == 200, review.status_code
    digest = re.search(rb'name="answers_digest" value="([0-9a-f]+)"', review.content).group(1).decode()
    out["submit"], status = count(client, "POST", path, {"action": "submit", "answers_digest": digest})
    assert status == 302, status
    return out


def fetch(conn: http.client.HTTPConnection, method: str, path: str, headers: dict | None = None):
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read(), dict(response.getheaders())


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


def csrf_pair(token: str) -> tuple[str, str]:
    """A CSRF cookie and its form token, valid for every link (CSRF is not tied to a path)."""
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    _s, body, headers = fetch(conn, "GET", f"/s/{token}?p=1")
    conn.close()
    cookie = headers["Set-Cookie"].split(";")[0]
    form = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    return cookie, form


def wrk_script(paths: list[str], *, method: str = "GET", body: str = "", headers: dict | None = None) -> str:
    """A wrk Lua script that spreads requests over `paths`."""
    lua_paths = ",".join(json.dumps(p) for p in paths)
    lua_headers = ",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in (headers or {}).items())
    return f"""
paths = {{{lua_paths}}}
headers = {{{lua_headers}}}
body = {json.dumps(body) if body else "nil"}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("{method}", paths[(counter % #paths) + 1], headers, body)
end
"""


def wrk(script: str, *, seconds: int, connections: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", f.name, f"http://127.0.0.1:{PORT}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    # A page that failed (4xx/5xx, socket errors) would make the run meaningless: refuse it.
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or (errors and "timeout 0" not in errors.group(1)):
        raise RuntimeError(f"wrk saw failed requests:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def serve() -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{PORT}", "-w", "2"]
        + ["--access-logfile", "/dev/null", "--error-logfile", "-", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/bench/ping")
            return server
        except OSError:
            if time.monotonic() > deadline:
                server.terminate()
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    data = setup_data()
    tokens = data["tokens"]
    server = serve()
    try:
        first = tokens["every type (page 1: 5 items)"]
        weight = page_weight(first[-3])
        cookie, form = csrf_pair(first[-3])
        save_body = urlencode({"csrfmiddlewaretoken": form, **EVERY_TYPE_PAGE_1, "shown": "intro mood help smoker"})
        scripts = {"bare view": wrk_script(["/bench/ping"])}
        for label, links in tokens.items():
            scripts[f"GET {label}"] = wrk_script([f"/s/{t}?p=1" for t in links[:LINKS]])
        scripts["page save (POST, every type page 1)"] = wrk_script(
            [f"/s/{t}" for t in first[:LINKS]],
            method="POST",
            body=save_body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        for script in scripts.values():
            wrk(script, seconds=1, connections=args.connections)  # warm-up: caches, connections
        rounds: list[dict[str, float]] = []
        for _ in range(args.rounds):
            rounds.append(
                {name: wrk(s, seconds=args.seconds, connections=args.connections) for name, s in scripts.items()}
            )
    finally:
        server.terminate()
        server.wait(timeout=15)

    from django.db import connection

    ratios = {name: round(statistics.median(r[name] / r["bare view"] for r in rounds), 3) for name in scripts}
    result = {
        "database": connection.vendor,
        "gunicorn_workers": 2,
        "load": f"wrk -t2 -c{args.connections}, {args.rounds} interleaved rounds of {args.seconds} s",
        "bytes": weight,
        "sql_statements": data["statements"],
        "requests_per_second_median": {n: round(statistics.median(r[n] for r in rounds), 1) for n in scripts},
        "ratio_to_bare_view_median": ratios,
        "goals": {"page GET": ">= 0.3", "page save": ">= 0.15", "statements per save / submit": "<= 6"},
        "rounds": [{k: round(v, 1) for k, v in r.items()} for r in rounds],
    }
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "patient_pages.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
