"""A TCP server that accepts connections and never answers: a hung dependency, at the wire."""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class SilentServer:
    """Listens on a free loopback port, accepts every connection, reads nothing, sends nothing."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.accepted = threading.Semaphore(0)  # released once per accepted connection
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(conn)
            self.accepted.release()

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopped.set()
        self._thread.join(5)
        self._listener.close()
        for conn in self.connections:  # the clients waiting on us see the connection end now
            conn.close()
