"""Clusters' recurring work (started by core's scheduler)."""

from clusters import jobs
from core.periodic import Periodic

JOBS = [Periodic(jobs.fail_abandoned_tests, "default", "STALL_CHECK_INTERVAL")]
