"""``manage.py receive_notifications``: a local webhook receiver that checks signatures."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications.receiver import Check, server


class Command(BaseCommand):
    help = (
        "Receive notifications on this machine: prints each message and whether its signature "
        "holds. Point a webhook channel at the address it prints, give it the channel's secret, "
        "then press Send test on the channel's page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8200, help="port to listen on (default 8200)")
        parser.add_argument(
            "--secret", default="", help="the channel's secret; without it signatures are not checked"
        )
        parser.add_argument(
            "--max-age", type=int, default=300, help="seconds a message's timestamp may be off (default 300)"
        )

    def handle(self, *args: Any, host: str, port: int, secret: str, max_age: int, **options: Any) -> None:
        if not 0 <= port <= 65535 or max_age < 1:
            raise CommandError("--port must be 0-65535 and --max-age at least 1")
        try:
            receiver = server(host, port, Check(secret, max_age), self.stdout)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        self.stdout.write(
            f"Receiving notifications at http://{host}:{receiver.server_port}/ "
            f"({'checking signatures' if secret else 'signatures not checked: no --secret'}); Ctrl-C stops."
        )
        try:
            receiver.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            receiver.server_close()
