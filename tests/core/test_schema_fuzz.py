"""A schema fuzzer (schemathesis) against the live OpenAPI schema, as each role.

Every operation of ``/api/schema/`` gets generated requests, valid and invalid ones, through the
WSGI application: a bounded number per operation, derandomized, so a run is repeatable. No answer
may be a 5xx, and each answer's status, content type and body must be what the schema says.
Most generated ids and names are replaced by real ones (``fuzz_world``), so requests reach real code.

Jobs the requests start are recorded but never run: the test's transaction never commits, and
its on-commit callbacks (which push jobs to Redis) are captured and dropped, so nothing talks to
git, a registry, a store or a cluster.

Schemathesis' pytest loader (``schemathesis.pytest.from_fixture``) does not work with pytest 9.2
(it sets ``Function._nodeid``), so the test drives Hypothesis with each operation's strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core import tokens
from tests.core.fuzz_world import build_world, fuzz_config

pytestmark = [pytest.mark.slow, pytest.mark.fuzz, pytest.mark.django_db]

ROLES = ["anonymous", "data-scientist", "release-manager", "on-call", "admin"]
MAX_EXAMPLES = 10  # per operation, role and mode (valid / invalid data): the module runs in ~1.5 min
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is reported as found
    suppress_health_check=list(HealthCheck),
)


def fuzz_operation(operation: Any, headers: Callable[[], dict[str, str]]) -> list[str]:
    """Send the operation's valid and invalid cases; a description of each failure found."""
    failures = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers(), checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            pass  # nothing of this operation can be invalid (e.g. only a string in the path)
        except (Exception, FailureGroup) as exc:  # a FailureGroup is a BaseExceptionGroup
            failures.append(f"{operation.label} ({mode.value} data):\n{exc}")
    return failures


@pytest.fixture
def world(application: Any, churn_model: Any, scientist: Any, manager: Any) -> dict[str, list[Any]]:
    return build_world(application, churn_model, scientist=scientist, manager=manager)


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """The WSGI application, kept from closing the test's database connection around each request
    (its transaction is the test's), as Django's test client does."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.fixture
def jobs_never_run(django_capture_on_commit_callbacks: Any) -> Iterator[None]:
    with django_capture_on_commit_callbacks(execute=False):
        yield


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_its_schema_says(role, world, make_user, wsgi_app, jobs_never_run):
    user = make_user(f"fuzz-{role}", role) if role != "anonymous" else None

    def headers() -> dict[str, str]:
        """A new token for each request: one operation revokes the token it is called with."""
        if user is None:
            return {}
        return {"Authorization": f"Token {tokens.issue(user, name='fuzz', actor=user)[1]}"}

    config = schemathesis.Config.from_dict(fuzz_config(world))
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, config=config)
    failures = []
    for result in schema.get_all_operations():
        failures.extend(fuzz_operation(result.ok(), headers))
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
