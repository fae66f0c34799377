import contextlib
import io
import tempfile
import unittest
from pathlib import Path

from helpers import SAMPLE_MODEL, scoring, train

QUICK = ["--samples", "300", "--epochs", "30"]


class TrainTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)

    def run_train(self, name: str, *args: str) -> Path:
        out = self.dir / name
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(train.main(["--out", str(out), *args]), 0)
        return out

    def test_the_same_flags_give_identical_bytes(self) -> None:
        first = self.run_train("a.json", "--seed", "7", *QUICK)
        second = self.run_train("b.json", "--seed", "7", *QUICK)
        self.assertEqual(first.read_bytes(), second.read_bytes())

    def test_another_seed_gives_another_model(self) -> None:
        first = scoring.load_model(self.run_train("a.json", "--seed", "1", *QUICK))
        second = scoring.load_model(self.run_train("b.json", "--seed", "2", *QUICK))
        self.assertNotEqual(first.model.weights, second.model.weights)

    def test_the_committed_sample_is_reproducible_from_its_recorded_flags(self) -> None:
        rebuilt = self.run_train("sample.json", "--seed", "1")
        self.assertEqual(rebuilt.read_bytes(), SAMPLE_MODEL.read_bytes())

    def test_name_and_version_are_recorded(self) -> None:
        path = self.run_train("m.json", "--name", "churn-eu", "--version", "2.1.0", *QUICK)
        model = scoring.load_model(path).model
        self.assertEqual((model.name, model.version), ("churn-eu", "2.1.0"))

    def test_it_rejects_too_few_samples(self) -> None:
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as raised:
            train.main(["--out", str(self.dir / "x.json"), "--samples", "3"])
        self.assertEqual(raised.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
