"""Cron configuration loaded by ``python manage.py rqcron dashboard.cron``."""

from rq import cron

from dashboard import periodic

for job_name, seconds in periodic.intervals().items():
    if seconds > 0:
        cron.register(periodic.start, "default", args=(job_name,), interval=seconds, name=job_name)
