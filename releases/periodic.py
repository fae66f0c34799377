"""Releases' recurring work (started by core's scheduler)."""

from core.periodic import Periodic
from releases import jobs

JOBS = [
    Periodic(jobs.tick, "deploys", "RELEASE_TICK_INTERVAL"),
    Periodic(jobs.check_drift, "default", "DRIFT_CHECK_INTERVAL"),
]
