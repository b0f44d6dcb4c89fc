"""`manage.py run_demo`: the web server and a Celery worker with beat, as two child processes.

Ctrl-C or SIGTERM stops both; if either dies, the other is stopped and the
command exits non-zero, so `make run` never leaves half a system running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from surveys.demo import broker_folders_ensure, demo_access, demo_access_print

STARTUP_TIMEOUT = 60.0  # seconds for the web server to answer
STOP_TIMEOUT = 15.0  # seconds a child gets to stop before it is killed


def _die_with_parent() -> None:
    # Linux only: if this process is killed outright (SIGKILL), the kernel
    # sends SIGTERM to the children instead of leaving them orphaned.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Command(BaseCommand):
    help = "Run the demo: web server on 127.0.0.1:$PORT (default 8000) and a Celery worker with beat."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, port: int, **options) -> None:
        broker_folders_ensure()
        # Links in messages and printed here must point at this server.
        site_url = os.environ.get("RESSENTI_SITE_URL") or f"http://127.0.0.1:{port}"
        env = {**os.environ, "RESSENTI_SITE_URL": site_url, "PYTHONUNBUFFERED": "1"}
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        commands = {
            "web": [sys.executable, manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            "worker": [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--beat",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--pool=solo",
                "--loglevel=INFO",
            ],
        }

        stopping = {"signal": None}

        def on_signal(signum, frame) -> None:
            stopping["signal"] = signum

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        children: dict[str, subprocess.Popen] = {}
        try:
            for name, command in commands.items():
                # Own session: Ctrl-C reaches this process only, which then
                # stops the children in order instead of racing them.
                children[name] = subprocess.Popen(
                    command, cwd=settings.BASE_DIR, env=env, start_new_session=True, preexec_fn=_die_with_parent
                )
            self.stdout.write(
                f"Started web server (pid {children['web'].pid}) and worker (pid "
                f"{children['worker'].pid}); waiting for {site_url} ..."
            )
            if self._wait_until_up(site_url, children, stopping):
                demo_access_print(access=demo_access(site_url=site_url), write=self.stdout.write)
                self.stdout.write(self.style.SUCCESS("Running. Press Ctrl-C to stop."))
            dead = self._wait(children, stopping)
        finally:
            self._stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if dead:
            name, code = dead
            raise CommandError(f"The {name} process exited (code {code}); stopped the rest.", returncode=1)
        self.stdout.write("Stopped.")

    def _wait_until_up(self, site_url: str, children: dict, stopping: dict) -> bool:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        url = site_url + "/admin/login/"
        while time.monotonic() < deadline and stopping["signal"] is None:
            if any(child.poll() is not None for child in children.values()):
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (our own URL)
                    if answer.status < 500:
                        return True
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        if stopping["signal"] is None:
            self.stderr.write(f"{url} did not answer within {STARTUP_TIMEOUT:.0f} s; still waiting on the processes.")
        return False

    def _wait(self, children: dict, stopping: dict) -> tuple[str, int] | None:
        while stopping["signal"] is None:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    return name, code
            time.sleep(0.3)
        return None

    def _stop(self, children: dict) -> None:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
