"""Builds' recurring work (started by core's scheduler)."""

from builds import jobs
from core.periodic import Periodic

JOBS = [
    Periodic(jobs.poll_repositories, "default", "GIT_POLL_INTERVAL"),
    Periodic(jobs.sync_image_tags, "default", "TAG_SYNC_INTERVAL"),
    Periodic(jobs.recover_stalled_builds, "default", "STALL_CHECK_INTERVAL"),
]
