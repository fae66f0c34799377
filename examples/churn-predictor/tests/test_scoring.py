import hashlib
import json
import tempfile
import unittest
from pathlib import Path

from helpers import CUSTOMER, SAMPLE_MODEL, scoring


class LoadModelTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.document = json.loads(SAMPLE_MODEL.read_text())

    def write(self, content: object) -> Path:
        path = Path(self.tmp.name) / "model.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path

    def test_it_loads_the_sample_and_hashes_the_exact_bytes(self) -> None:
        loaded = scoring.load_model(SAMPLE_MODEL)
        self.assertEqual(loaded.sha256, hashlib.sha256(SAMPLE_MODEL.read_bytes()).hexdigest())
        self.assertEqual(loaded.size, SAMPLE_MODEL.stat().st_size)
        self.assertEqual(loaded.model.name, "churn")
        self.assertEqual(len(loaded.model.features), len(loaded.model.weights))

    def test_it_says_when_the_file_is_missing(self) -> None:
        with self.assertRaisesRegex(scoring.ModelError, "does not exist"):
            scoring.load_model(Path(self.tmp.name) / "absent.json")

    def test_it_refuses_invalid_json(self) -> None:
        with self.assertRaisesRegex(scoring.ModelError, "not valid JSON"):
            scoring.load_model(self.write("{not json"))

    def test_it_refuses_nan_in_the_file(self) -> None:
        text = json.dumps(self.document).replace('"intercept": ', '"intercept": NaN, "x": ')
        with self.assertRaisesRegex(scoring.ModelError, "NaN"):
            scoring.load_model(self.write(text))

    def test_it_refuses_another_format(self) -> None:
        with self.assertRaisesRegex(scoring.ModelError, "unsupported format 'onnx'"):
            scoring.load_model(self.write({**self.document, "format": "onnx"}))

    def test_it_refuses_a_weight_count_that_does_not_match_the_features(self) -> None:
        with self.assertRaisesRegex(scoring.ModelError, "5 weights for 6 features"):
            scoring.load_model(self.write({**self.document, "weights": self.document["weights"][:5]}))

    def test_it_names_a_missing_field(self) -> None:
        document = dict(self.document)
        del document["intercept"]
        with self.assertRaisesRegex(scoring.ModelError, "missing field 'intercept'"):
            scoring.load_model(self.write(document))

    def test_it_refuses_a_zero_std(self) -> None:
        features = [dict(f) for f in self.document["features"]]
        features[0]["std"] = 0
        with self.assertRaisesRegex(scoring.ModelError, "non-positive std"):
            scoring.load_model(self.write({**self.document, "features": features}))


class PredictTest(unittest.TestCase):
    model = scoring.load_model(SAMPLE_MODEL).model

    def test_named_and_ordered_features_give_the_same_result(self) -> None:
        by_name = self.model.predict(CUSTOMER)
        in_order = self.model.predict([CUSTOMER[name] for name in self.model.feature_names])
        self.assertEqual(by_name, in_order)

    def test_a_risky_customer_churns_and_a_loyal_one_stays(self) -> None:
        self.assertEqual(self.model.predict(CUSTOMER).label, "churn")
        loyal = {**CUSTOMER, "tenure_months": 70, "support_calls": 0, "contract_months": 24, "autopay": True}
        loyal["monthly_charges"] = 30
        prediction = self.model.predict(loyal)
        self.assertEqual(prediction.label, "stay")
        self.assertTrue(0.0 <= prediction.probability < 0.5)

    def test_extreme_values_do_not_overflow(self) -> None:
        huge = {**CUSTOMER, "support_calls": 1e300}
        self.assertEqual(self.model.predict(huge).probability, 1.0)
        self.assertEqual(self.model.predict({**CUSTOMER, "support_calls": -1e300}).probability, 0.0)

    def test_it_lists_missing_and_unknown_features(self) -> None:
        features = {k: v for k, v in CUSTOMER.items() if k != "autopay"} | {"colour": 1}
        with self.assertRaisesRegex(scoring.InputError, r"missing: autopay; unknown: colour"):
            self.model.predict(features)

    def test_it_refuses_non_numeric_values(self) -> None:
        with self.assertRaisesRegex(scoring.InputError, "'tenure_months' must be a finite number"):
            self.model.predict({**CUSTOMER, "tenure_months": "3"})

    def test_it_refuses_a_list_of_the_wrong_length(self) -> None:
        with self.assertRaisesRegex(scoring.InputError, "expected 6 feature values"):
            self.model.predict([1, 2, 3])

    def test_it_refuses_other_shapes(self) -> None:
        for features in ("tenure", 3, None):
            with self.subTest(features=features), self.assertRaises(scoring.InputError):
                self.model.predict(features)  # type: ignore[arg-type]


if __name__ == "__main__":
    unittest.main()
