"""The embedded default builder: tests, model and code become an image, on this machine.

No container engine is involved: the commit is exported with ``git archive``, its tests run
with the host's tools, and the image is assembled layer by layer (app tree at ``/app``, model
file at ``/model/<name>``) following the image contract of examples/churn-predictor/README.md,
then pushed to the configured registry. ``run`` is synchronous; a job calls it and records
the log lines it reports.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from integrations import git
from integrations.buildservice.base import BuildRequest
from integrations.buildservice.local_image import (
    image_env,
    image_labels,
    make_spec,
    on_base,
    pull_base,
)
from integrations.buildservice.local_testrun import minimal_environment, run_test_command
from integrations.errors import Cancelled, IntegrityMismatch, NotFound, PermanentError
from integrations.hashing import HashingWriter
from integrations.images.oci import BuiltImage, LayerSource, build_image
from integrations.localdirs import require_writable_dir
from integrations.modelstore.base import ModelStore, validate_key
from integrations.registry.base import ImageRef, Registry, validate_repository, validate_tag

__all__ = ["LocalBuildResult", "LocalBuilder"]

SYSTEM = "local build"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CANCEL_CHECK_SECONDS = 0.5  # ``cancelled`` may query a database: ask at most this often

Log = Callable[[str], None]


@dataclass(frozen=True)
class LocalBuildResult:
    image: ImageRef
    config_labels: dict[str, str]


def _throttled(check: Callable[[], bool], interval: float) -> Callable[[], bool]:
    last = [float("-inf")]

    def throttled() -> bool:
        if time.monotonic() - last[0] < interval:
            return False
        last[0] = time.monotonic()
        return check()

    return throttled


def _validate(req: BuildRequest) -> str:
    """Refuse a request that could only fail late, before spending minutes on its tests."""
    validate_repository(req.image_repository)
    validate_tag(req.image_tag)
    validate_key(req.model_key)
    git.validate_sha(req.commit)
    expected = req.model_sha256.lower().removeprefix("sha256:")
    if not SHA256_RE.match(expected):
        raise PermanentError(f"model sha256 {req.model_sha256!r} is not 64 hex digits", system=SYSTEM)
    name = req.model_filename
    if not name or "/" in name or name in (".", "..") or any(ord(c) < 32 for c in name):
        raise PermanentError(f"model file name {name!r} must be a plain file name", system=SYSTEM)
    if not 0 < req.port < 65536:
        raise PermanentError(f"port {req.port} is not a TCP port", system=SYSTEM)
    return expected


class LocalBuilder:
    kind = "local"

    def __init__(
        self,
        registry: Registry,
        model_store: ModelStore,
        workdir: Path,
        git_cache: git.GitCache,
        test_timeout: float = 900,
    ) -> None:
        self.registry = registry
        self.model_store = model_store
        self.workdir = Path(workdir)
        self.git_cache = git_cache
        self.test_timeout = test_timeout

    def check(self) -> None:
        """Raise an IntegrationError when git is missing or the work directory is unusable."""
        if shutil.which("git") is None:
            raise PermanentError("the git command is not installed", system=SYSTEM)
        require_writable_dir(self.workdir, "work directory", system=SYSTEM)

    def run(
        self, req: BuildRequest, log: Log, cancelled: Callable[[], bool] = lambda: False
    ) -> LocalBuildResult:
        """Export, test, fetch the model, build and push; raises our errors, never leaves files."""
        expected_sha256 = _validate(req)
        is_cancelled = _throttled(cancelled, CANCEL_CHECK_SECONDS)
        self.workdir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=self.workdir, prefix=f"build-{req.build_id}-"))
        try:
            commit, app_dir = self._export(req, work, log)
            self._test(req, app_dir, work, log, is_cancelled)
            model_file = self._fetch_model(req, expected_sha256, work, log, is_cancelled)
            image = self._build(req, commit, expected_sha256, app_dir, model_file, work, log, is_cancelled)
            labels = json.loads(image.config.path.read_bytes())["config"]["Labels"]
            return LocalBuildResult(self._push(req, image, log), labels)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _stop_if_cancelled(is_cancelled: Callable[[], bool], step: str) -> None:
        if is_cancelled():
            raise Cancelled(f"the build was cancelled before {step}", system=SYSTEM)

    def _export(self, req: BuildRequest, work: Path, log: Log) -> tuple[str, Path]:
        where = f" (directory {req.app_path})" if req.app_path else ""
        log(f"==> Exporting commit {req.commit} of {git.redact_url(req.repository_url)}{where}")
        commit = git.resolve_commit(req.repository_url, req.commit, cache=self.git_cache)
        app_dir = git.archive(req.repository_url, commit, work / "app", req.app_path, cache=self.git_cache)
        count = sum(1 for path in app_dir.rglob("*") if not path.is_dir())
        log(f"    {count} files from commit {commit}")
        return commit, app_dir

    def _test(
        self, req: BuildRequest, app_dir: Path, work: Path, log: Log, is_cancelled: Callable[[], bool]
    ) -> None:
        if not req.test_command.strip():
            log("==> No test command configured: tests skipped")
            return
        self._stop_if_cancelled(is_cancelled, "the tests")
        log(f"==> Running tests: {req.test_command}")
        # Tests run in a copy, so files they write (caches, reports) never end up in the image.
        test_dir = work / "test"
        shutil.copytree(app_dir, test_dir, symlinks=True)
        for name in ("home", "tmp"):
            (work / name).mkdir()
        env = minimal_environment(work / "home", work / "tmp")
        try:
            run_test_command(
                req.test_command,
                test_dir,
                env=env,
                timeout=self.test_timeout,
                log=log,
                cancelled=is_cancelled,
            )
        except Cancelled:
            log("==> Cancelled: the tests were stopped")
            raise
        except PermanentError as exc:
            log(f"==> {exc.message}: no image is built")
            raise
        except OSError as exc:  # e.g. /bin/sh missing: nothing the commit could fix
            raise PermanentError(f"cannot start the test command: {exc}", system=SYSTEM) from exc
        log("    tests passed")

    def _fetch_model(
        self, req: BuildRequest, expected: str, work: Path, log: Log, is_cancelled: Callable[[], bool]
    ) -> Path:
        self._stop_if_cancelled(is_cancelled, "fetching the model")
        log(f"==> Fetching model {req.model_name} version {req.model_version} ({req.model_key})")
        dest = work / "model" / req.model_filename
        dest.parent.mkdir()
        try:
            with open(dest, "wb") as out:
                fetched = HashingWriter(out)
                pinned = self.model_store.open(
                    req.model_key,
                    version_id=req.model_version_id,
                    etag="" if req.model_version_id else req.model_etag,
                )
                for chunk in pinned:
                    fetched.write(chunk)
                    self._stop_if_cancelled(is_cancelled, "the model was fetched")
        except NotFound as exc:
            raise NotFound(
                f"model file {req.model_key} is not in the model store ({exc})", system=SYSTEM
            ) from exc
        except IntegrityMismatch as exc:  # the store refused: the object changed since registration
            log("    the model file in the store is not the registered one: no image is built")
            raise IntegrityMismatch(
                f"model file {req.model_key} no longer holds the registered sha256 {expected} ({exc})",
                system=SYSTEM,
            ) from exc
        if fetched.hexdigest != expected:
            log("    the model file does not match its recorded sha256: no image is built")
            raise IntegrityMismatch(
                f"model sha256 mismatch: expected {expected}, got {fetched.hexdigest}", system=SYSTEM
            )
        log(f"    {fetched.size} bytes, sha256 {expected} verified")
        return dest

    def _build(
        self,
        req: BuildRequest,
        commit: str,
        model_sha256: str,
        app_dir: Path,
        model_file: Path,
        work: Path,
        log: Log,
        is_cancelled: Callable[[], bool],
    ) -> BuiltImage:
        self._stop_if_cancelled(is_cancelled, "building the image")
        log("==> Building the image")
        model_path = f"/model/{req.model_filename}"
        model = {
            "model_name": req.model_name,
            "model_version": str(req.model_version),
            "model_sha256": model_sha256,
        }
        created = datetime.now(UTC).replace(microsecond=0)
        spec = make_spec(
            image_labels=image_labels(
                commit=commit, source=git.redact_url(req.repository_url), created=created, **model
            ),
            command=req.command,
            env=image_env(model_path=model_path, port=req.port, commit=commit, **model),
            port=req.port,
            created=created,
        )
        layers = [LayerSource(app_dir, "/app"), LayerSource(model_file, model_path)]
        image = build_image(layers, spec, work / "image")
        if req.base_image:
            log(f"    base image {req.base_image}")
            base = pull_base(self.registry, req.base_image, work / "base")
            image = on_base(base, image, work / "image")
        log(f"    {len(image.layers)} layers, manifest {image.manifest_digest}")
        return image

    def _push(self, req: BuildRequest, image: BuiltImage, log: Log) -> ImageRef:
        log(f"==> Pushing {req.image_repository}:{req.image_tag}")
        ref = self.registry.push_image(req.image_repository, req.image_tag, image)
        log(f"    pushed {self.registry.reference(ref.repository, ref.digest)}")
        return ref
