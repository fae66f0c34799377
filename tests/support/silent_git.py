"""A git host that accepts connections and never answers: what held every web thread once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class SilentHost:
    url: str
    accepted: list[socket.socket] = field(default_factory=list)

    @property
    def connections(self) -> int:
        return len(self.accepted)


@contextmanager
def silent_git_host() -> Iterator[SilentHost]:
    """Serve ``http://127.0.0.1:PORT/team/app.git`` that takes connections and says nothing."""
    server = socket.create_server(("127.0.0.1", 0))
    host = SilentHost(url=f"http://127.0.0.1:{server.getsockname()[1]}/team/app.git")
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            host.accepted.append(connection)  # kept open, never read or answered

    thread = threading.Thread(target=accept, daemon=True, name="silent-git-host")
    thread.start()
    try:
        yield host
    finally:
        stop.set()
        thread.join()
        for connection in host.accepted:
            connection.close()
        server.close()
