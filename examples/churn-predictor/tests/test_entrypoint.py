"""serve.py started the way an image (or a runner that unpacked one) starts it."""

import hashlib
import shutil
import tempfile
import unittest
from pathlib import Path

from helpers import APP_DIR, CUSTOMER, SAMPLE_MODEL, ServeProcess, request

RUNTIME_FILES = ("serve.py", "scoring.py")


class EntrypointTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)

    def start(self, env: dict[str, str], script: Path = APP_DIR / "serve.py", cwd: Path | None = None):
        process = ServeProcess(script, env, cwd=cwd or self.dir)
        self.addCleanup(process.close)
        return process

    def test_it_serves_until_SIGTERM_and_then_exits_cleanly(self) -> None:
        process = self.start({"MODEL_PATH": str(SAMPLE_MODEL), "APP_REVISION": "feedface"})
        port = process.port()
        process.wait_ready(port)
        status, _, payload = request(port, "POST", "/predict", {"features": CUSTOMER})
        self.assertEqual((status, payload["prediction"]), (200, "churn"))
        self.assertEqual(process.terminate(), 0)
        process.wait_for_line("stopping: SIGTERM")
        process.wait_for_line("stopped")

    def test_it_runs_from_an_unpacked_image_root(self) -> None:
        # The layout of the image: /app holds the code, /model/model.json the model.
        root = self.dir / "rootfs"
        (root / "app").mkdir(parents=True)
        (root / "model").mkdir()
        for name in RUNTIME_FILES:
            shutil.copy(APP_DIR / name, root / "app" / name)
        shutil.copy(SAMPLE_MODEL, root / "model" / "model.json")
        env = {"IMAGE_ROOT": str(root), "MODEL_PATH": "/model/model.json", "MODEL_VERSION": "7"}

        # As the image config says: ENTRYPOINT ["python3", "serve.py"] in WorkingDir /app.
        process = self.start(env, script=Path("serve.py"), cwd=root / "app")
        port = process.port()
        process.wait_ready(port)
        info = request(port, "GET", "/info")[2]
        self.assertEqual(info["model_path"], str(root / "model" / "model.json"))
        self.assertEqual(info["model_sha256"], hashlib.sha256(SAMPLE_MODEL.read_bytes()).hexdigest())
        self.assertEqual(info["model_version"], "7")
        self.assertEqual(process.terminate(), 0)

    def test_a_missing_model_stops_the_process_with_the_reason(self) -> None:
        process = self.start({"MODEL_PATH": str(self.dir / "absent.json")})
        self.assertEqual(process.wait(), 1)
        process.wait_for_line(r"cannot load the model: model file .*absent\.json does not exist")

    def test_a_model_with_the_wrong_digest_stops_the_process(self) -> None:
        process = self.start({"MODEL_PATH": str(SAMPLE_MODEL), "MODEL_SHA256": "f" * 64})
        self.assertEqual(process.wait(), 1)
        process.wait_for_line("different model than it claims")

    def test_bad_configuration_exits_with_status_2(self) -> None:
        process = self.start({"MODEL_PATH": str(SAMPLE_MODEL), "PORT": "eighty"})
        self.assertEqual(process.wait(), 2)
        process.wait_for_line("PORT must be a number")


if __name__ == "__main__":
    unittest.main()
