"""Data for the schema fuzzer: one of everything the API names by id or name, and the schemathesis
configuration that makes generated requests name them, so they reach real code instead of a 404.

Everything is made through the services (as the product does) or the release test helpers; no
job runs (see ``tests/core/test_schema_fuzz.py``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group

from builds.models import Build, Image
from core import jobrunner, tokens
from core.models import ApiToken
from notifications import services as notification_services
from releases import services as release_services
from releases.models import Environment, Schedule
from tests.releases.helpers import candidate, mark_succeeded

PASSWORD = "pw-for-tests"  # what tests/conftest.py's make_user gives everyone
HIT_RATE = 0.7  # how often a generated id or name is replaced by one that exists

# Which objects a path parameter names, by the operations' paths.
PATH_PARAMETERS = [
    (r"^/api/v1/models/\{name\}/", {"name": "models", "number": "versions"}),
    (r"^/api/v1/applications/\{name\}/", {"name": "applications"}),
    (r"^/api/v1/builds/\{id\}/", {"id": "builds"}),
    (r"^/api/v1/images/\{id\}/", {"id": "images"}),
    (r"^/api/v1/environments/\{id\}/", {"id": "environments", "window_id": "freeze_windows"}),
    (r"^/api/v1/releases/\{id\}/", {"id": "releases"}),
    (r"^/api/v1/schedules/\{id\}/", {"id": "schedules"}),
    (r"^/api/v1/jobs/\{id\}/", {"id": "jobs"}),
    (r"^/api/v1/auth/tokens/\{id\}/", {"id": "tokens"}),
    (r"^/api/v1/notification-channels/\{id\}/", {"id": "channels"}),
]
# Which objects a field of a request body names, in every operation that has it.
BODY_FIELDS = {
    "model": "models",
    "application": "applications",
    "environment": "environments",
    "previous_environment": "environment_names",
    "build": "builds",
    "image": "images",
    "model_version": "versions",
    "username": "usernames",
    "password": "passwords",
    # values that pass validation, so that creating things succeeds now and then
    "name": "new_names",
    "cron": "crons",
    "timezone": "timezones",
    "image_repository": "image_repositories",
    "url": "urls",
}


def build_world(application: Any, model: Any, *, scientist: Any, manager: Any) -> dict[str, list[Any]]:
    """Two environments with candidates, a running release and a waiting one, builds in each
    state a build action cares about, a schedule, a freeze window, a job run and a spare token.
    Returns the ids and names of each kind of object."""
    version = model.versions.get(version=1)
    staging = _environment(application, "staging", manager, order=1)
    prod = _environment(application, "prod", manager, order=2, previous=staging, required_approvals=2)
    first, second = candidate(application, version, "first"), candidate(application, version, "second")
    running = mark_succeeded(release_services.request_release(staging, image=first, actor=scientist))
    waiting = release_services.request_release(staging, image=second, actor=scientist, note="fuzz")
    for commit, state in (("c" * 40, Build.State.QUEUED), ("d" * 40, Build.State.FAILED)):
        Build.objects.create(
            application=application, commit=commit, model_version=version, state=state, image_tag=state
        )
    window = release_services.add_freeze_window(
        prod,
        {"reason": "quarter end", "cron": "0 1 * * *", "duration_minutes": 60, "timezone": "UTC"},
        actor=manager,
    )
    schedule = release_services.save_schedule(
        Schedule(owner=manager), {"environment": prod, "cron": "0 2 * * *", "timezone": "UTC"}, actor=manager
    )
    job = jobrunner.enqueue("models_registry.jobs.sync_model_store", actor=scientist)
    tokens.issue(manager, name="spare", actor=manager)
    channel, _ = notification_services.create_channel(
        {"name": "fuzz-channel", "kind": "webhook", "url": "https://hooks.example.com/x", "events": []},
        actor=manager,
    )
    return {
        "models": [model.name],
        "versions": [version.version],
        "applications": [application.name],
        "builds": list(Build.objects.order_by("pk").values_list("pk", flat=True)),
        "images": list(Image.objects.order_by("pk").values_list("pk", flat=True)),
        "environments": [staging.pk, prod.pk],
        "environment_names": [staging.name, prod.name],
        "freeze_windows": [window.pk],
        "releases": [running.pk, waiting.pk],
        "schedules": [schedule.pk],
        "jobs": [job.pk],
        "tokens": list(ApiToken.objects.values_list("pk", flat=True)),
        "usernames": [scientist.username, manager.username],
        "passwords": [PASSWORD],
        "new_names": ["fuzz-one", "fuzz-two"],
        "crons": ["0 3 * * *", "*/15 * * * 1-5"],
        "timezones": ["UTC", "Europe/Amsterdam"],
        "image_repositories": ["fuzz/app"],
        "channels": [channel.pk],
        "urls": ["https://hooks.example.com/fuzz"],
    }


def fuzz_config(world: dict[str, list[Any]]) -> dict[str, Any]:
    """schemathesis settings: no generated credentials (the test signs in), and most generated ids
    and names replaced by ones in ``world``."""

    def bind(prefix: str, names: dict[str, str]) -> dict[str, Any]:
        return {
            f"{prefix}.{name}": {"dictionary": f"{prefix}-{kind}", "probability": HIT_RATE}
            for name, kind in names.items()
        }

    # Bodies carry ids as numbers; paths as text (the schema's path ids are digit strings).
    dictionaries = {f"body-{kind}": {"values": values} for kind, values in world.items()}
    dictionaries.update(
        {f"path-{kind}": {"values": [str(v) for v in values]} for kind, values in world.items()}
    )
    return {
        "generation": {"with-security-parameters": False},
        "dictionaries": dictionaries,
        "parameters": bind("body", BODY_FIELDS),
        "operations": [
            {"include-path-regex": path, "parameters": bind("path", names)} for path, names in PATH_PARAMETERS
        ],
    }


def _environment(application: Any, name: str, actor: Any, **fields: Any) -> Environment:
    values = {
        "application": application,
        "name": name,
        "target_config": {"port": 18100 + len(name)},
        "required_approvals": 1,
        "approver_group": Group.objects.get(name="Release manager"),
        **fields,
    }
    return release_services.create_environment(values, actor=actor)
