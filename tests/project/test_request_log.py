"""No URL secret reaches a log: Django's request loggers, gunicorn's access log, the nginx recipe."""

import importlib.util
import logging
import re

import pytest
from django.urls import URLResolver, get_resolver

from config.logging import SECRET_PATHS, RedactLinkTokens, mask_secrets
from tests.paths import ROOT

SECRET = "Zq9SECRETtoken_value-42"
TOKEN_NAMES = {"token", "key", "uidb36"}


def token_routes():
    """Every route of the resolver with a token-like parameter, as a sample path with SECRET."""
    paths = []

    def walk(resolver, prefix):
        for p in resolver.url_patterns:
            text = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p, text)
            elif re.search(r"<(?:\w+:)?(token|key|uidb36)>|\(\?P<(token|key|uidb36)>", text):
                # Regex groups first: their names look like path converters.
                sample = re.sub(r"\(\?P<uidb36>[^)]*\)-\(\?P<key>[^)]*\)", SECRET, text)
                sample = re.sub(r"\(\?P<\w+>[^)]*\)", SECRET, sample)
                sample = re.sub(r"<(?:\w+:)?\w+>", SECRET, sample)
                paths.append("/" + sample.replace("^", "").replace("$", ""))

    walk(get_resolver(), "")
    return paths


ROUTES = token_routes()


def test_every_token_route_is_found_and_listed():
    assert len(ROUTES) >= 10
    for path in ROUTES:
        assert path.startswith(SECRET_PATHS), path
        assert SECRET not in mask_secrets(path), path


@pytest.mark.parametrize("path", ROUTES)
def test_django_request_loggers_never_write_the_token(path, client, db, caplog):
    handler_filter = RedactLinkTokens()
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            if handler_filter.filter(record):
                records.append(self.format(record))

    keep = Keep()
    for name in ("django.server", "django.request"):
        logging.getLogger(name).addHandler(keep)
    try:
        client.get(path + "?token=" + SECRET)
        logging.getLogger("django.server").info('"GET %s HTTP/1.1" 200 12', path + "?key=" + SECRET)
        logging.getLogger("django.request").warning("Not Found: %s", path)
    finally:
        for name in ("django.server", "django.request"):
            logging.getLogger(name).removeHandler(keep)
    assert records
    assert all(SECRET not in line for line in records), records


def test_the_console_handler_of_the_settings_masks(settings):
    assert "redact_tokens" in settings.LOGGING["handlers"]["console"]["filters"]


def gunicorn_conf():
    spec = importlib.util.spec_from_file_location("ressenti_gunicorn_conf", ROOT / "config" / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", ROUTES)
def test_gunicorn_access_log_never_writes_the_token(path, tmp_path):
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    conf = gunicorn_conf()
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("access_log_format", conf.access_log_format)
    log = conf.MaskingLogger(cfg)
    query = "lang=fr&token=" + SECRET
    req = SimpleNamespace(
        method="GET",
        uri=path + "?" + query,
        path=path,
        query=query,
        version=(1, 1),
        headers=[("REFERER", "https://x.example" + path)],
    )
    resp = SimpleNamespace(status="200 OK", response_length=12, sent=12, headers=[])
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path + "?" + query,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_REFERER": "https://x.example" + path,
        "HTTP_USER_AGENT": "test",
    }
    log.access(resp, req, environ, timedelta(seconds=0.01))
    for handler in log.access_log.handlers:
        handler.flush()
    written = (tmp_path / "access.log").read_text()
    assert "GET " in written and "[token]" in written
    assert SECRET not in written


def nginx_map():
    text = (ROOT / "docs" / "nginx.conf").read_text()
    body = re.search(r"map \$request_uri \$masked_request_uri \{(.*?)\n\}", text, re.S).group(1)
    return [(m.group(1), m.group(2)) for m in re.finditer(r'"~(.+?)"\s+"(.+?)";', body)]


def apply_nginx_map(uri: str) -> str:
    for regex, replacement in nginx_map():  # first match wins, as in nginx
        match = re.match(regex, uri)
        if match:
            # nginx's $1 is Python's \1 (an unmatched group expands to nothing in both).
            return match.expand(re.sub(r"\$(\d)", r"\\\1", replacement))
    return uri


def test_nginx_map_masks_the_same_paths():
    assert len(nginx_map()) >= len(SECRET_PATHS)
    for path in ROUTES:
        for uri in (path, path + "?lang=fr"):
            masked = apply_nginx_map(uri)
            assert SECRET not in masked, uri
            assert masked == mask_secrets(uri), uri
    assert SECRET not in apply_nginx_map("/staff/x/?lang=fr&token=" + SECRET)
    assert apply_nginx_map("/admin/surveys/") == "/admin/surveys/"


def _console_lines(client, path: str) -> str:
    """What a handler built as settings.LOGGING's console handler writes for one request to `path`."""
    import io
    from importlib import import_module

    from django.conf import settings

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"]))
    for name in settings.LOGGING["handlers"]["console"]["filters"]:
        module, _dot, cls = settings.LOGGING["filters"][name]["()"].rpartition(".")
        handler.addFilter(getattr(import_module(module), cls)())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        client.get(path)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_refused_request_logs_one_line_without_a_traceback(client, make):
    study = make.study(code="refusing")
    user = make.user()
    make.member(user=user, study=study, role="reviewer")
    client.force_login(user)
    # A reviewer may not open the export page: PermissionDenied, logged by Django with its exception.
    logged = _console_lines(client, "/staff/studies/refusing/exports/")
    assert "Forbidden" in logged and "/staff/studies/refusing/exports/" in logged
    assert "Traceback" not in logged and len(logged.strip().splitlines()) == 1


def test_a_server_error_keeps_its_traceback():
    from config.logging import ClientErrorsWithoutTraceback

    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error", (), sys.exc_info()
        )
    record.status_code = 500
    assert ClientErrorsWithoutTraceback().filter(record) and record.exc_info is not None
    record.status_code = 404
    assert ClientErrorsWithoutTraceback().filter(record) and record.exc_info is None
