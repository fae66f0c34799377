"""Every change to environments and releases goes through these functions, each audited.

One module per concern; this package re-exports their entry points, so callers write
``services.approve(...)``.
"""

from releases.services.approvals import approvals_wait, approve, can_approve, reject, valid_approvals
from releases.services.environments import ENVIRONMENT_FIELDS, create_environment, update_environment
from releases.services.lifecycle import active_freeze, enqueue, get_release, kick, transition
from releases.services.requests import (
    allow_break_glass,
    cancel,
    candidate,
    change_candidate,
    check_candidate,
    check_promotion,
    request_release,
)
from releases.services.rollback import previous_good, rollback
from releases.services.schedules import (
    add_freeze_window,
    delete_freeze_window,
    delete_schedule,
    save_schedule,
)

__all__ = [
    "ENVIRONMENT_FIELDS",
    "active_freeze",
    "add_freeze_window",
    "allow_break_glass",
    "approvals_wait",
    "approve",
    "can_approve",
    "cancel",
    "candidate",
    "change_candidate",
    "check_candidate",
    "check_promotion",
    "create_environment",
    "delete_freeze_window",
    "delete_schedule",
    "enqueue",
    "get_release",
    "kick",
    "previous_good",
    "reject",
    "request_release",
    "rollback",
    "save_schedule",
    "transition",
    "update_environment",
    "valid_approvals",
]
