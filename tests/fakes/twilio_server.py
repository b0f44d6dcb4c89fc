"""A fake Twilio that speaks Twilio's HTTP API on 127.0.0.1, for tests and the benchmark.

Not a Python mock: the real SDK (patients/messaging/sms/twilio.py) talks to it over real HTTP, so
auth, form encoding, error bodies, timeouts and the retry policy are all exercised.

    with FakeTwilio() as fake:                         # random port, serving in a thread
        use_fake_twilio(settings, fake)                # or fake_twilio_env(fake) for a subprocess
        ...
        fake.fail_next(2, status=500)                  # the next two requests get HTTP 500
        fake.rate_limit_next(1, retry_after=3)         # HTTP 429 with Retry-After: 3
        fake.hang_next(1, seconds=2, accept=True)      # record the message, then answer too late
        fake.reject_next(1, code=21211)                # HTTP 400 with a Twilio error code
        fake.reject_numbers["+33600000000"] = 21211    # always refuse this number
        fake.undeliverable["+33611111111"] = 30003     # accept, then call back "undelivered"
        fake.fail_lookups(1)                           # the next GET Messages.json (a list) answers 503
        fake.random_faults(hang_accepted=0.03)         # 3 % of sends taken, then answered too late
        fake.messages, fake.duplicates, fake.duplicates_by_content, fake.lookups

Status callbacks: with `callbacks=("sent", "delivered")` the fake POSTs each status to the
message's StatusCallback URL, signed with X-Twilio-Signature like Twilio does (HMAC-SHA1 of
the URL and sorted form fields, keyed with the auth token), `callback_delay` seconds apart.

Run alone (for `make run` or the benchmark against a worker in another process):
    python -m tests.fakes.twilio_server --port 8765
GET /_fake/stats answers the counters as JSON; POST /_fake/reset clears them.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from twilio.request_validator import RequestValidator

DEFAULT_SID = "AC" + "0" * 32
DEFAULT_TOKEN = "fake-twilio-auth-token"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"

ERROR_MESSAGES = {
    20003: "Authenticate",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    20429: "Too Many Requests",
}


@dataclass
class FakeMessage:
    sid: str
    account_sid: str
    to: str
    from_: str
    messaging_service_sid: str
    body: str
    status_callback: str
    idempotency_key: str
    status: str = "queued"
    error_code: int | None = None
    created: float = field(default_factory=time.time)

    def as_json(self) -> dict:
        date = formatdate(self.created, usegmt=True)
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": self.body,
            "date_created": date,
            "date_updated": date,
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": None,
            "from": self.from_ or None,
            "messaging_service_sid": self.messaging_service_sid or None,
            "num_media": "0",
            "num_segments": str(_segments(self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "to": self.to,
            "uri": uri,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        }


def _segments(body: str) -> int:
    from patients.messaging.sms.gsm import sms_segments

    return max(1, sms_segments(body).segments)


@dataclass
class _Fault:
    kind: str  # "status", "hang", "reject"
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    accept: bool = False
    code: int | None = None


class FakeTwilio:
    def __init__(
        self,
        *,
        account_sid: str = DEFAULT_SID,
        auth_token: str = DEFAULT_TOKEN,
        callbacks: tuple[str, ...] = (),
        callback_delay: float = 0.05,
        port: int = 0,
    ):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.callbacks, self.callback_delay = callbacks, callback_delay
        self.reject_numbers: dict[str, int] = {}
        self.undeliverable: dict[str, int] = {}
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._random = random.Random(1)
        self._rates: list[tuple[float, _Fault]] = []
        self.reset()
        self._server = _Server(("127.0.0.1", port), self._handler())
        self._thread: threading.Thread | None = None
        self._callback_threads: list[threading.Thread] = []

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilio:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for thread in self._callback_threads:
            thread.join(timeout=5)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- what the test sets up ----------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.messages: list[FakeMessage] = []
            self.requests = 0
            self.callback_results: list[tuple[str, str, int]] = []  # (sid, status, HTTP status)
            self._by_key: Counter[str] = Counter()
            self._by_content: Counter[tuple[str, str]] = Counter()
            self._faults = []
            self.lookups = 0
            self.lookup_failures = 0

    def fail_lookups(self, n: int = 1) -> None:
        """The next `n` message lists answer HTTP 503."""
        with self._lock:
            self.lookup_failures += n

    def fail_next(self, n: int = 1, *, status: int = 500) -> None:
        self._add(n, _Fault("status", status=status))

    def rate_limit_next(self, n: int = 1, *, retry_after: float = 1) -> None:
        self._add(n, _Fault("status", status=429, retry_after=retry_after, code=20429))

    def hang_next(self, n: int = 1, *, seconds: float = 5.0, accept: bool = False) -> None:
        """Answer only after `seconds`. With accept=True the message is recorded first: the
        dangerous case where the provider did send, but the client gave up waiting."""
        self._add(n, _Fault("hang", seconds=seconds, accept=accept))

    def reject_next(self, n: int = 1, *, code: int = 21211, status: int = 400) -> None:
        self._add(n, _Fault("reject", status=status, code=code))

    def _add(self, n: int, fault: _Fault) -> None:
        with self._lock:
            self._faults.extend([fault] * n)

    # --- what the test reads ------------------------------------------------------------------
    @property
    def duplicates(self) -> int:
        """Accepted messages whose idempotency key had been accepted before."""
        with self._lock:
            return sum(count - 1 for key, count in self._by_key.items() if key and count > 1)

    @property
    def duplicates_by_content(self) -> int:
        """Accepted messages with the same To and Body as an earlier one (keys or not)."""
        with self._lock:
            return sum(count - 1 for count in self._by_content.values() if count > 1)

    def stats(self) -> dict:
        with self._lock:
            accepted, requests = len(self.messages), self.requests
        return {
            "requests": requests,
            "accepted": accepted,
            "duplicates": self.duplicates,
            "duplicates_by_content": self.duplicates_by_content,
            "lookups": self.lookups,
        }

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.callback_results) >= count:
                    return True
            time.sleep(0.02)
        return False

    # --- the API --------------------------------------------------------------------------------
    def random_faults(
        self,
        *,
        hang_accepted: float = 0.0,
        hang_lost: float = 0.0,
        rate_limited: float = 0.0,
        seconds: float = 2.0,
        retry_after: float = 1.0,
        seed: int = 1,
    ) -> None:
        """Each create request, with these probabilities: taken then answered after `seconds`,
        lost and answered (504) after `seconds`, or refused with 429 and Retry-After."""
        with self._lock:
            self._random = random.Random(seed)
            self._rates = [
                (hang_accepted, _Fault("hang", seconds=seconds, accept=True)),
                (hang_lost, _Fault("hang", seconds=seconds, accept=False)),
                (rate_limited, _Fault("status", status=429, retry_after=retry_after, code=20429)),
            ]

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if self._faults:
                return self._faults.pop(0)
            draw = self._random.random()
            for rate, fault in self._rates:
                if draw < rate:
                    return fault
                draw -= rate
            return None

    def _create(self, account_sid: str, form: dict[str, str], key: str) -> tuple[int, dict, dict]:
        with self._lock:
            self.requests += 1
        fault = self._take_fault()
        if fault and fault.kind == "status":
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            return fault.status, _error(fault.code or 20500, fault.status), headers
        if fault and fault.kind == "reject":
            return fault.status, _error(fault.code or 21211, fault.status), {}
        if fault and fault.kind == "hang" and not fault.accept:
            time.sleep(fault.seconds)  # nothing recorded: the request was lost on the way
            return 504, _error(20500, 504), {}
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From", ""), form.get("MessagingServiceSid", "")
        if not to:
            return 400, _error(21604, 400), {}
        if not body:
            return 400, _error(21602, 400), {}
        if not sender and not service:
            return 400, _error(21603, 400), {}
        if not (to.startswith("+") and to[1:].isdigit() and 8 <= len(to) <= 16):
            return 400, _error(21211, 400), {}
        if to in self.reject_numbers:
            return 400, _error(self.reject_numbers[to], 400), {}
        message = FakeMessage(
            sid="SM" + secrets.token_hex(16),
            account_sid=account_sid,
            to=to,
            from_=sender,
            messaging_service_sid=service,
            body=body,
            status_callback=form.get("StatusCallback", ""),
            idempotency_key=key,
        )
        with self._lock:
            self.messages.append(message)
            self._by_key[key] += 1
            self._by_content[(to, body)] += 1
        if fault and fault.kind == "hang":
            time.sleep(fault.seconds)
        self._schedule_callbacks(message)
        return 201, message.as_json(), {}

    def _list(self, account_sid: str, query: dict[str, str]) -> tuple[int, dict, dict]:
        """Messages of the account, newest first, filtered by To as Twilio does; one page."""
        with self._lock:
            self.lookups += 1
            if self.lookup_failures:
                self.lookup_failures -= 1
                return 503, _error(20503, 503), {}
            found = [m for m in reversed(self.messages) if not query.get("To") or m.to == query["To"]]
        size = max(1, min(1000, int(query.get("PageSize") or 50)))
        uri = f"/2010-04-01/Accounts/{account_sid}/Messages.json?PageSize={size}&Page=0"
        return (
            200,
            {
                "messages": [m.as_json() for m in found[:size]],
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
                "page": 0,
                "page_size": size,
                "start": 0,
                "end": max(0, min(size, len(found)) - 1),
                "uri": uri,
            },
            {},
        )

    def _fetch(self, sid: str) -> tuple[int, dict, dict]:
        with self._lock:
            found = next((m for m in self.messages if m.sid == sid), None)
        if found is None:
            return (
                404,
                {
                    "code": 20404,
                    "message": f"The requested resource {sid} was not found",
                    "more_info": "https://www.twilio.com/docs/errors/20404",
                    "status": 404,
                },
                {},
            )
        return 200, found.as_json(), {}

    # --- status callbacks -------------------------------------------------------------------------
    def _schedule_callbacks(self, message: FakeMessage) -> None:
        if not (self.callbacks and message.status_callback):
            return
        statuses = list(self.callbacks)
        if message.to in self.undeliverable:
            statuses = [s for s in statuses if s != "delivered"] + ["undelivered"]
        thread = threading.Thread(target=self._post_callbacks, args=(message, statuses), daemon=True)
        self._callback_threads.append(thread)
        thread.start()

    def _post_callbacks(self, message: FakeMessage, statuses: list[str]) -> None:
        for status in statuses:
            time.sleep(self.callback_delay)
            message.status = status
            params = {
                "AccountSid": message.account_sid,
                "ApiVersion": "2010-04-01",
                "From": message.from_,
                "MessageSid": message.sid,
                "MessageStatus": status,
                "SmsSid": message.sid,
                "SmsStatus": status,
                "To": message.to,
            }
            if status == "undelivered":
                message.error_code = self.undeliverable.get(message.to)
                params["ErrorCode"] = str(message.error_code)
            self.callback_results.append((message.sid, status, self.post_signed(message.status_callback, params)))

    def post_signed(self, url: str, params: dict[str, str], *, token: str | None = None) -> int:
        """POST form fields to `url` with a valid X-Twilio-Signature (or one made with `token`)."""
        signature = RequestValidator(token or self.auth_token).compute_signature(url, params)
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(params).encode(),
            method="POST",
            headers={
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
                IDEMPOTENCY_HEADER: secrets.token_hex(8),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    # --- HTTP plumbing ----------------------------------------------------------------------------
    def _authorised(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(password, self.auth_token)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like the real API: the SDK reuses connections
            # TCP_NODELAY: the headers and the body go out as two writes; with Nagle's algorithm the
            # second waits for the client's delayed ACK, 40 ms a request, and the fake, not the code
            # under test, would set the pace.
            disable_nagle_algorithm = True

            def log_message(self, format, *args) -> None:  # quiet: test output stays readable
                pass

            def _answer(self, status: int, payload: dict, headers: dict | None = None) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

            def _parts(self) -> list[str]:
                return urllib.parse.urlsplit(self.path).path.strip("/").split("/")

            def do_GET(self) -> None:
                parts = self._parts()
                if parts == ["_fake", "stats"]:
                    return self._answer(200, fake.stats())
                if not fake._authorised(self.headers.get("Authorization", "")):
                    return self._answer(401, _error(20003, 401))
                if len(parts) == 4 and parts[:2] == ["2010-04-01", "Accounts"] and parts[3] == "Messages.json":
                    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                    return self._answer(*fake._list(parts[2], query))
                if len(parts) == 5 and parts[:2] == ["2010-04-01", "Accounts"] and parts[3] == "Messages":
                    return self._answer(*fake._fetch(parts[4].removesuffix(".json")))
                self._answer(404, _error(20404, 404))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                parts = self._parts()
                if parts == ["_fake", "reset"]:
                    fake.reset()
                    return self._answer(200, fake.stats())
                if not fake._authorised(self.headers.get("Authorization", "")):
                    return self._answer(401, _error(20003, 401))
                if len(parts) == 4 and parts[:2] == ["2010-04-01", "Accounts"] and parts[3] == "Messages.json":
                    if parts[2] != fake.account_sid:
                        return self._answer(401, _error(20003, 401))
                    form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
                    return self._answer(*fake._create(parts[2], form, self.headers.get(IDEMPOTENCY_HEADER, "")))
                self._answer(404, _error(20404, 404))

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Workers open a pool of connections each, all at once: socketserver's default backlog of 5
    # drops the SYNs beyond it (a 1 s retransmit each) or resets the connection.
    request_queue_size = 256


def _error(code: int, status: int) -> dict:
    return {
        "code": code,
        "message": ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake Twilio Messages API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account-sid", default=DEFAULT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_TOKEN)
    parser.add_argument("--callbacks", default="", help="statuses to call back, e.g. sent,delivered")
    parser.add_argument("--hang-accepted", type=float, default=0.0, help="share of sends taken, then answered late")
    parser.add_argument("--hang-lost", type=float, default=0.0, help="share of sends lost, answered late (504)")
    parser.add_argument("--rate-limited", type=float, default=0.0, help="share of sends refused with 429")
    parser.add_argument("--hang-seconds", type=float, default=2.0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    args = parser.parse_args()
    fake = FakeTwilio(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        port=args.port,
        callbacks=tuple(s for s in args.callbacks.split(",") if s),
    )
    fake.random_faults(
        hang_accepted=args.hang_accepted,
        hang_lost=args.hang_lost,
        rate_limited=args.rate_limited,
        seconds=args.hang_seconds,
        retry_after=args.retry_after,
    )
    print(f"fake Twilio on {fake.url} (account {fake.account_sid})", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()


# The fake has no carrier queue behind it: its sender is paced (the limiter runs) far above what a
# test sends, unless a test sets TWILIO_SENDER_MPS itself.
FAKE_SENDER_MPS = 10000.0


def use_fake_twilio(settings, fake: FakeTwilio, *, sender: str = "+33700000000", timeout: float = 2.0) -> None:
    """Point the Twilio backend at `fake` (pytest-django's `settings` fixture or an override)."""
    settings.SMS_BACKEND = "patients.messaging.sms.twilio.TwilioBackend"
    settings.TWILIO_SENDER_MPS = FAKE_SENDER_MPS
    settings.TWILIO_ACCOUNT_SID = fake.account_sid
    settings.TWILIO_AUTH_TOKEN = fake.auth_token
    settings.TWILIO_FROM = sender
    settings.TWILIO_API_BASE = fake.url
    settings.TWILIO_TIMEOUT = timeout


def fake_twilio_env(fake: FakeTwilio, *, sender: str = "+33700000000", timeout: float = 2.0) -> dict[str, str]:
    """The same, as environment variables for a worker subprocess (tests/project/test_celery_worker.py style)."""
    return {
        "SMS_BACKEND": "patients.messaging.sms.twilio.TwilioBackend",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_FROM": sender,
        "TWILIO_API_BASE": fake.url,
        "TWILIO_TIMEOUT": str(timeout),
        "TWILIO_SENDER_MPS": str(FAKE_SENDER_MPS),
    }
