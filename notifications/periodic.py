"""Notifications' recurring work (started by core's scheduler)."""

from core.periodic import Periodic
from notifications import jobs

JOBS = [Periodic(jobs.fail_abandoned_deliveries, "default", "STALL_CHECK_INTERVAL")]
