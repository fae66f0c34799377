"""Creating and changing environments (the target, approval and soak rules)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from core import audit
from core.audit import Actor
from core.errors import ConflictError, ServiceError
from releases import rules
from releases.models import Environment, RuleChange

ENVIRONMENT_FIELDS = (
    "order",
    "previous",
    "soak_minutes",
    "target_kind",
    "target_config",
    "required_approvals",
    "approver_group",
    "allow_self_approval",
    "approval_validity_hours",
    "auto_rollback",
    "rollout_timeout",
)


def _check_environment(environment: Environment) -> None:
    from releases.targets import validate_target_config

    validate_target_config(environment.target_kind, environment.target_config)
    previous = environment.previous if environment.previous_id else None
    if previous is not None and previous.application_id != environment.application_id:
        raise ServiceError("The previous environment must belong to the same application.", field="previous")
    if environment.previous_id and environment.previous_id == environment.pk:
        raise ServiceError("An environment cannot follow itself.", field="previous")


def create_environment(fields: dict[str, Any], *, actor: Actor) -> Environment:
    """Create an environment; approval rules weaker than the defaults are only proposed (see
    :mod:`releases.rules`) when a person asks, and wait in ``environment.rule_changes``."""
    weaker: dict[str, list[Any]] = {}
    if rules.by_a_person(actor):
        fields, weaker = rules.split(Environment(**rules.DEFAULTS), fields)
    environment = Environment(**fields)
    environment.full_clean(validate_unique=False)
    _check_environment(environment)
    try:
        with transaction.atomic():
            environment.save()
            audit.record("environment.create", environment, actor=actor, after=environment.audit_state())
            if weaker:
                rules.propose(environment, weaker, actor=actor, reason="asked for when it was created")
    except IntegrityError:
        raise ConflictError(f"{environment} already exists.", field="name") from None
    return environment


def update_environment(
    environment: Environment, fields: dict[str, Any], *, actor: Actor
) -> tuple[Environment, RuleChange | None]:
    """Change an environment's settings. A person's change that weakens the approval rules is
    only proposed, for a second person to approve (:mod:`releases.rules`); it is returned."""
    with transaction.atomic():
        environment = Environment.objects.select_for_update().get(pk=environment.pk)
        fields = {name: value for name, value in fields.items() if name in ENVIRONMENT_FIELDS}
        weaker: dict[str, list[Any]] = {}
        if rules.by_a_person(actor):
            fields, weaker = rules.split(environment, fields)
        before = environment.audit_state()
        for name, value in fields.items():
            setattr(environment, name, value)
        environment.full_clean(validate_unique=False)
        _check_environment(environment)
        environment.save()
        audit.record_update(
            "environment.update", environment, actor=actor, before=before, after=environment.audit_state()
        )
        proposed = rules.propose(environment, weaker, actor=actor) if weaker else None
    return environment, proposed
