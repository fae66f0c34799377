"""Separation of duties for environments' approval rules.

A change that weakens an environment's approval rules is only proposed (a ``RuleChange``); it
takes effect when a second person - another release manager, or an admin - approves it. Why
two people rather than "admins only": admins request and approve releases too, so an admin
could otherwise switch four-eyes off for their own release; and release managers, who own the
rules day to day, can still change them without waiting for an admin. A change that only
tightens the rules cannot weaken separation of duties and applies at once.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from core import audit
from core.errors import ConflictError, ForbiddenError
from releases.models import Environment, RuleChange

RULE_FIELDS = ("required_approvals", "allow_self_approval", "approval_validity_hours", "approver_group")
DEFAULTS = {"required_approvals": 1, "allow_self_approval": False, "approval_validity_hours": 24}


def _value(environment: Environment, field: str) -> Any:
    return environment.approver_group_id if field == "approver_group" else getattr(environment, field)


def _new_value(field: str, value: Any) -> Any:
    return value.pk if isinstance(value, Group) else value


def weakens(field: str, old: Any, new: Any) -> bool:
    """Whether moving ``field`` from ``old`` to ``new`` lets fewer or other people decide."""
    if field == "required_approvals":
        return new < old
    if field == "allow_self_approval":
        return bool(new) and not old
    if field == "approval_validity_hours":
        return new > old
    return new != old and old is not None  # approver_group: choosing one where there was none tightens


def by_a_person(actor: Any) -> bool:
    """Commands run on the server (``system:…`` actors, e.g. seed_demo) are trusted like the
    database access they have; people go through a second person."""
    return not isinstance(actor, str)


def split(environment: Environment, fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """(fields that apply now, rule changes that need a second person as {"field": [from, to]})."""
    now, proposed = {}, {}
    for name, value in fields.items():
        if name in RULE_FIELDS:
            old, new = _value(environment, name), _new_value(name, value)
            if old != new and weakens(name, old, new):
                proposed[name] = [old, new]
                continue
        now[name] = value
    return now, proposed


def propose(
    environment: Environment, changes: dict[str, list[Any]], *, actor: Any, reason: str = ""
) -> RuleChange:
    """Record a weakening of the rules for a second person to approve; audited."""
    with transaction.atomic():
        change = RuleChange.objects.create(
            environment=environment, changes=changes, proposed_by=actor, reason=reason[:2000]
        )
        audit.record("rule_change.propose", change, actor=actor, after=change.audit_state())
    return change


def why_not_decide(change: RuleChange, user: Any) -> str | None:
    if change.state != RuleChange.State.PENDING:
        return f"{change} is {change.state}."
    if not (user.is_superuser or user.has_perm("releases.approve_release")):
        return "Only release managers and admins decide on approval rules."
    if change.proposed_by_id == user.pk:
        return "You proposed this change; someone else has to approve it (separation of duties)."
    return None


def decide(change: RuleChange, *, approve: bool, actor: Any, reason: str = "") -> RuleChange:
    """Apply (approve) or reject a proposed change; the rules must still be what it was proposed from."""
    with transaction.atomic():
        change = RuleChange.objects.select_for_update().select_related("environment").get(pk=change.pk)
        refusal = why_not_decide(change, actor)
        if refusal:
            raise (ConflictError if change.state != RuleChange.State.PENDING else ForbiddenError)(refusal)
        before = change.audit_state()
        if approve:
            _apply(change, actor)
        change.state = RuleChange.State.APPLIED if approve else RuleChange.State.REJECTED
        change.decided_by, change.decided_at = actor, timezone.now()
        if reason:
            change.reason = reason[:2000]
        change.save()
        audit.record(
            f"rule_change.{change.state}", change, actor=actor, before=before, after=change.audit_state()
        )
    return change


def _apply(change: RuleChange, actor: Any) -> None:
    environment = Environment.objects.select_for_update().get(pk=change.environment_id)
    stale = [name for name, (old, _) in change.changes.items() if _value(environment, name) != old]
    if stale:
        raise ConflictError(
            f"The rules changed since this was proposed ({', '.join(stale)}); propose the change again."
        )
    before = environment.audit_state()
    for name, (_, new) in change.changes.items():
        setattr(environment, "approver_group_id" if name == "approver_group" else name, new)
    environment.save()
    audit.record_update(
        "environment.update", environment, actor=actor, before=before, after=environment.audit_state()
    )


def withdraw(change: RuleChange, *, actor: Any) -> RuleChange:
    with transaction.atomic():
        change = RuleChange.objects.select_for_update().get(pk=change.pk)
        if change.proposed_by_id != getattr(actor, "pk", None):
            raise ForbiddenError("Only who proposed a change can withdraw it.")
        if change.state != RuleChange.State.PENDING:
            raise ConflictError(f"{change} is {change.state}.")
        before = change.audit_state()
        change.state, change.decided_by, change.decided_at = RuleChange.State.WITHDRAWN, actor, timezone.now()
        change.save()
        audit.record("rule_change.withdrawn", change, actor=actor, before=before, after=change.audit_state())
    return change


LABELS = {
    "required_approvals": "approvals needed",
    "allow_self_approval": "requester may approve",
    "approval_validity_hours": "approvals valid (hours)",
    "approver_group": "approvers",
}


def describe(change: RuleChange) -> str:
    """The change in words, e.g. "approvals needed 2 → 1; requester may approve no → yes"."""
    groups = dict(
        Group.objects.filter(pk__in=[v for v in change.changes.get("approver_group", []) if v]).values_list(
            "pk", "name"
        )
    )

    def word(field: str, value: Any) -> str:
        if field == "approver_group":
            return groups.get(value, "any release manager") if value else "any release manager"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    return "; ".join(
        f"{LABELS.get(field, field)} {word(field, old)} → {word(field, new)}"
        for field, (old, new) in change.changes.items()
    )
