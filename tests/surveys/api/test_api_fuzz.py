"""Fuzzing the API with schemathesis against its own OpenAPI schema: no input gives a 5xx.

The schema is the one /api/schema/ serves (drf-spectacular's generator, read once at collection);
requests go through the WSGI application, in process, to the test database holding the small
two-study world of tests/api_world.py. Every operation gets valid and invalid inputs (negative
mode: wrong types, out-of-range values, unknown parameters, bad bodies); requests carry a valid
token of a data manager of study "alpha", and the path's study is "alpha", so that cases reach
past the 404 of an unknown study into filters, pages and objects. Seeded and derandomized: the
same cases every run, well under a minute.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from surveys.api.tokens import SHOWN_CHARS, token_digest
from surveys.models import ApiToken
from tests.api_world import world_build

MAX_EXAMPLES = 10
# A fixed token, so that the configuration (built at collection) can carry it; the row is made per test.
FUZZ_TOKEN = "rst_fuzzing-token-of-the-alpha-data-manager-0001"


def _served_schema() -> dict:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260101,
        "headers": {"Authorization": f"Bearer {FUZZ_TOKEN}", "Accept-Encoding": "identity"},
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "mode": "all", "database": "none"},
        "parameters": {"path.study": "alpha"},
    }
)


class InTestWSGI:
    """Django's WSGI application, minus closing the database connection at the end of each request
    (as Django's test client does): the test's transaction holds the data the requests read."""

    def __init__(self):
        self.handler = WSGIHandler()

    def __call__(self, environ, start_response):
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                response.close()
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_dict(_served_schema(), config=CONFIG)
schema.app = InTestWSGI()


def _contract_schema() -> dict:
    """The served schema, for the contract checks, with two things the harness itself decides:
    the study in the path is always "alpha" (so its pattern would make every negative path case
    look accepted), and the cursor is always "" (an opaque token of the server's: any other string
    is a 400 by design, tests/surveys/api/test_api.py, which no schema can express)."""
    served = _served_schema()
    for operations in served["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("name") != "cursor"]
                for parameter in operation["parameters"]:
                    if parameter.get("in") == "path" and parameter.get("name") == "study":
                        parameter["schema"].pop("pattern", None)
    return served


contract = schemathesis.openapi.from_dict(_contract_schema(), config=CONFIG)
contract.app = InTestWSGI()
CONTRACT_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]


@pytest.fixture
def fuzz_world(db, settings, tmp_path):
    settings.API_THROTTLE_RATE = ""
    settings.EXPORTS_ROOT = str(tmp_path / "exports")
    world = world_build()
    ApiToken.objects.create(
        user=world.users["dm"], label="fuzz", prefix=FUZZ_TOKEN[:SHOWN_CHARS], key_hash=token_digest(FUZZ_TOKEN)
    )
    return world


def test_the_fuzzed_schema_covers_every_operation():
    operations = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert ("POST", "/api/studies/{study}/exports/") in operations
    assert ("GET", "/api/studies/{study}/messages/") in operations
    assert len(operations) == 19


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
def test_no_input_gives_a_server_error(case, fuzz_world):
    case.call_and_validate(checks=[not_a_server_error])


@contract.parametrize()
@settings(
    max_examples=MAX_EXAMPLES * 3,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case, fuzz_world):
    """Statuses, content types, bodies and headers as documented; what the schema refuses is refused
    and what it allows is accepted (schemathesis' conformance and data checks)."""
    case.call_and_validate(checks=CONTRACT_CHECKS)
