"""HTTP API for the churn model. Standard library only.

    MODEL_PATH=models/churn-model.json python3 serve.py

Endpoints: ``POST /predict``, ``GET /healthz``, ``GET /info``. Configuration comes from the
environment only (see README.md). The model loads in the background after the port is bound, so
``/healthz`` answers 503 until it is ready; a model that cannot be loaded stops the process
with exit status 1 and a log line that says why.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socketserver
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from scoring import MODEL_FORMAT, InputError, LoadedModel, ModelError, load_model

APP_NAME = "churn-predictor"
APP_VERSION = "1.0.0"
DEFAULT_PORT = 8080
MAX_BODY_BYTES = 64 * 1024  # one prediction request is a few hundred bytes
DISCARD_LIMIT = 1024 * 1024

log = logging.getLogger(APP_NAME)


class ConfigError(Exception):
    """The environment does not describe a runnable server."""


@dataclass(frozen=True)
class Settings:
    model_path: Path
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    model_name: str = ""  # "" means: the name recorded in the model file
    model_version: str = ""
    expected_sha256: str = ""  # when set, a model file with another digest is refused
    app_revision: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        raw_path = env.get("MODEL_PATH", "").strip()
        if not raw_path:
            raise ConfigError("MODEL_PATH is not set; point it at a model JSON file")
        return cls(
            model_path=resolve_image_path(raw_path, env.get("IMAGE_ROOT", "")),
            host=env.get("HOST", "").strip() or "0.0.0.0",
            port=_port(env.get("PORT", "").strip() or str(DEFAULT_PORT)),
            model_name=env.get("MODEL_NAME", "").strip(),
            model_version=env.get("MODEL_VERSION", "").strip(),
            expected_sha256=env.get("MODEL_SHA256", "").strip().lower(),
            app_revision=env.get("APP_REVISION", "").strip(),
        )


def resolve_image_path(path: str, image_root: str) -> Path:
    """Map an absolute path inside the image onto the directory the image was unpacked to.

    Image configs name files as the container sees them (``/model/model.json``); a runner
    that unpacks the layers into ``IMAGE_ROOT`` instead of starting a container sets that
    variable, and the same config keeps working. Relative paths are left alone.
    """
    resolved = Path(path)
    if image_root and resolved.is_absolute():
        return Path(image_root) / resolved.relative_to(resolved.anchor)
    return resolved


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(f"PORT must be a number, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"PORT must be between 0 and 65535, got {port}")
    return port


class AppState:
    """What the server can do right now: loading → ready, or → failed; draining on shutdown."""

    def __init__(self) -> None:
        self.status = "loading"
        self.loaded: LoadedModel | None = None
        self.error = ""
        self.started_at = _now()
        self.loaded_at = ""

    def ready(self, loaded: LoadedModel) -> None:
        # Publish the model before the status, so a request that sees "ready" also sees the model.
        self.loaded, self.loaded_at = loaded, _now()
        self.status = "ready"

    def failed(self, error: str) -> None:
        self.error, self.status = error, "failed"


class PredictionServer(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog: http.server's default of 5 resets connections under a burst of clients.
    request_queue_size = 128

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = AppState()
        self.exit_code = 0
        self._stopping = threading.Event()
        super().__init__((settings.host, settings.port), RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall for seconds without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self, reason: str, exit_code: int = 0) -> None:
        """Stop serving from any thread (or a signal handler); in-flight requests finish first."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self.exit_code = exit_code
        if self.state.status == "ready":
            self.state.status = "draining"
        log.info("stopping: %s", reason)
        # shutdown() waits for serve_forever() to return, so it must not run on the serving thread.
        threading.Thread(target=self.shutdown, name="shutdown", daemon=True).start()


def load_model_into(server: PredictionServer) -> bool:
    """Load the configured model and mark the server ready; on failure record why and return False."""
    settings = server.settings
    try:
        loaded = load_model(settings.model_path)
        if settings.expected_sha256 and loaded.sha256 != settings.expected_sha256:
            raise ModelError(
                f"model file {loaded.path} has sha256 {loaded.sha256}, but MODEL_SHA256 says "
                f"{settings.expected_sha256}: the image holds a different model than it claims"
            )
    except ModelError as exc:
        server.state.failed(str(exc))
        log.error("cannot load the model: %s", exc)
        return False
    server.state.ready(loaded)
    log.info(
        "model %s %s loaded from %s (sha256 %s)",
        model_name(server),
        model_version(server),
        loaded.path,
        loaded.sha256,
    )
    return True


def model_name(server: PredictionServer) -> str | None:
    # The release dashboard names models; the name inside the file is only the trainer's label.
    loaded = server.state.loaded
    return server.settings.model_name or (loaded.model.name if loaded else None)


def model_version(server: PredictionServer) -> str | None:
    loaded = server.state.loaded
    return server.settings.model_version or (loaded.model.version if loaded else None)


def info(server: PredictionServer) -> dict[str, Any]:
    state, loaded = server.state, server.state.loaded
    model = loaded.model if loaded else None
    return {
        "status": state.status,
        "app_name": APP_NAME,
        "app_version": APP_VERSION,
        "app_revision": server.settings.app_revision or None,
        "model_name": model_name(server),
        "model_version": model_version(server),
        "model_sha256": loaded.sha256 if loaded else None,
        "model_path": str(server.settings.model_path),
        "model_size": loaded.size if loaded else None,
        "model_format": MODEL_FORMAT,
        "model_file_name": model.name if model else None,
        "model_file_version": model.version if model else None,
        "features": model.feature_names if model else None,
        "labels": list(model.labels) if model else None,
        "started_at": state.started_at,
        "loaded_at": state.loaded_at or None,
        "error": state.error or None,
    }


class RequestError(Exception):
    def __init__(self, status: HTTPStatus, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class RequestHandler(BaseHTTPRequestHandler):
    server: PredictionServer
    server_version = f"{APP_NAME}/{APP_VERSION}"
    timeout = 30  # a stalled client must not hold a thread (and shutdown) forever

    GET_ROUTES = ("/healthz", "/info")
    POST_ROUTES = ("/predict",)

    def do_GET(self) -> None:
        path = self._path()
        if path == "/healthz":
            self._health()
        elif path == "/info":
            self._send_json(HTTPStatus.OK, info(self.server))
        else:
            self._not_routed(path)

    def do_POST(self) -> None:
        path = self._path()
        if path != "/predict":
            self._not_routed(path)
            return
        try:
            self._send_json(HTTPStatus.OK, self._predict())
        except RequestError as exc:
            self._send_error(exc.status, exc.code, exc.message)

    def do_PUT(self) -> None:
        self._not_routed(self._path())

    do_DELETE = do_PATCH = do_PUT

    def _health(self) -> None:
        state = self.server.state
        status = HTTPStatus.OK if state.status == "ready" else HTTPStatus.SERVICE_UNAVAILABLE
        body: dict[str, Any] = {"status": state.status}
        if state.error:
            body["error"] = state.error
        self._send_json(status, body)

    def _predict(self) -> dict[str, Any]:
        body = self._read_json()  # read first: closing on an unread body can reset the connection
        loaded = self.server.state.loaded
        if self.server.state.status != "ready" or loaded is None:
            raise RequestError(HTTPStatus.SERVICE_UNAVAILABLE, "not_ready", "the model is not loaded yet")
        if not isinstance(body, dict) or "features" not in body:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                "invalid_request",
                'send a JSON object like {"features": {"name": value, ...}} or {"features": [values...]}',
            )
        try:
            prediction = loaded.model.predict(body["features"])
        except InputError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, "invalid_features", str(exc)) from None
        return {
            "prediction": prediction.label,
            "probability": round(prediction.probability, 6),
            "model_name": model_name(self.server),
            "model_version": model_version(self.server),
        }

    def _read_json(self) -> Any:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "length_required", "send a Content-Length header")
        try:
            length = int(length_header)
        except ValueError:
            raise RequestError(HTTPStatus.BAD_REQUEST, "invalid_request", "bad Content-Length") from None
        if length < 0:
            raise RequestError(HTTPStatus.BAD_REQUEST, "invalid_request", "bad Content-Length")
        if length > MAX_BODY_BYTES:
            self._discard(length)
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "too_large",
                f"the body must be at most {MAX_BODY_BYTES} bytes",
            )
        try:
            return json.loads(self.rfile.read(length), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            message = f"the body is not valid JSON: {exc}"
            raise RequestError(HTTPStatus.BAD_REQUEST, "invalid_json", message) from None

    def _discard(self, length: int) -> None:
        # Read a moderately oversized body so the client gets our 413 instead of a connection reset;
        # anything bigger is not worth the bandwidth.
        if length <= DISCARD_LIMIT:
            while length > 0:
                chunk = self.rfile.read(min(length, 65536))
                if not chunk:
                    break
                length -= len(chunk)

    def _not_routed(self, path: str) -> None:
        routes = {"GET": self.GET_ROUTES, "POST": self.POST_ROUTES}
        allowed = [method for method, paths in routes.items() if path in paths]
        if allowed:
            self._send_error(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "method_not_allowed",
                f"{path} accepts {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        else:
            self._send_error(HTTPStatus.NOT_FOUND, "not_found", f"no such endpoint: {path}")

    def _path(self) -> str:
        return urlsplit(self.path).path

    def _send_error(
        self, status: HTTPStatus, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        self._send_json(status, {"error": code, "message": message}, headers)

    def _send_json(self, status: HTTPStatus, body: Any, headers: dict[str, str] | None = None) -> None:
        data = (json.dumps(body) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # Probes hit /healthz every few seconds; keep them out of the default log level.
        level = logging.DEBUG if self._path() == "/healthz" else logging.INFO
        log.log(level, "%s %s", self.address_string(), format % args)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = Settings.from_env(os.environ)
        server = PredictionServer(settings)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error("cannot listen on the configured HOST/PORT: %s", exc)
        return 2

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        server.stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def load() -> None:
        if not load_model_into(server):
            server.stop("the model could not be loaded", exit_code=1)

    threading.Thread(target=load, name="model-loader", daemon=True).start()
    log.info("%s %s listening on %s:%d", APP_NAME, APP_VERSION, settings.host, server.port)
    with server:
        server.serve_forever()
    log.info("stopped")
    return server.exit_code


if __name__ == "__main__":
    sys.exit(main())
