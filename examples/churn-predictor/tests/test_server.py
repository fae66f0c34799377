"""The HTTP API, served in-process on a free port."""

import hashlib
import http.client
import json
import tempfile
import threading
import unittest
from pathlib import Path

from helpers import CUSTOMER, SAMPLE_MODEL, request, running_server, scoring, serve, settings

SAMPLE_SHA256 = hashlib.sha256(SAMPLE_MODEL.read_bytes()).hexdigest()


class ReadyServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        context = running_server(settings(app_revision="0123abc"))
        cls.server = context.__enter__()
        cls.addClassCleanup(context.__exit__, None, None, None)
        cls.port = cls.server.port

    def predict(self, body: object) -> tuple[int, dict]:
        status, _, payload = request(self.port, "POST", "/predict", body)
        return status, payload

    def assert_bad_request(self, body: object, code: str, message_part: str) -> None:
        status, payload = self.predict(body)
        self.assertEqual(status, 400, payload)
        self.assertEqual(payload["error"], code)
        self.assertIn(message_part, payload["message"])

    def test_healthz_is_ok_once_the_model_is_loaded(self) -> None:
        status, headers, payload = request(self.port, "GET", "/healthz")
        self.assertEqual((status, payload), (200, {"status": "ready"}))
        self.assertEqual(headers["Content-Type"], "application/json")

    def test_predict_with_named_features(self) -> None:
        status, payload = self.predict({"features": CUSTOMER})
        self.assertEqual(status, 200)
        self.assertEqual(payload["prediction"], "churn")
        self.assertEqual(payload["model_version"], "1.0.0")
        self.assertEqual(payload["model_name"], "churn")
        expected = scoring.load_model(SAMPLE_MODEL).model.predict(CUSTOMER).probability
        self.assertAlmostEqual(payload["probability"], expected, places=6)

    def test_predict_with_a_list_in_feature_order(self) -> None:
        _, info = request(self.port, "GET", "/info")[::2]
        ordered = [CUSTOMER[name] for name in info["features"]]
        self.assertEqual(self.predict({"features": ordered}), self.predict({"features": CUSTOMER}))

    def test_predict_handles_concurrent_requests(self) -> None:
        results: list[int] = []

        def call() -> None:
            results.append(self.predict({"features": CUSTOMER})[0])

        threads = [threading.Thread(target=call) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        self.assertEqual(results, [200] * 16)

    def test_info_reports_the_model_and_the_app(self) -> None:
        status, _, payload = request(self.port, "GET", "/info")
        self.assertEqual(status, 200)
        self.assertEqual(payload["status"], "ready")
        self.assertEqual(payload["model_sha256"], SAMPLE_SHA256)
        self.assertEqual((payload["model_name"], payload["model_version"]), ("churn", "1.0.0"))
        self.assertEqual(payload["app_name"], "churn-predictor")
        self.assertEqual(payload["app_version"], serve.APP_VERSION)
        self.assertEqual(payload["app_revision"], "0123abc")
        self.assertEqual(payload["features"][0], "tenure_months")
        self.assertIsNone(payload["error"])

    def test_invalid_json_is_a_400(self) -> None:
        status, _, payload = request(self.port, "POST", "/predict", raw=b"{features")
        self.assertEqual(status, 400)
        self.assertEqual(payload["error"], "invalid_json")

    def test_nan_is_not_json(self) -> None:
        body = json.dumps({"features": {**CUSTOMER, "tenure_months": float("nan")}}).encode()
        status, _, payload = request(self.port, "POST", "/predict", raw=body)
        self.assertEqual((status, payload["error"]), (400, "invalid_json"))

    def test_a_body_without_features_is_a_400(self) -> None:
        self.assert_bad_request({"tenure_months": 3}, "invalid_request", '{"features"')
        self.assert_bad_request([1, 2, 3], "invalid_request", '{"features"')

    def test_missing_and_unknown_features_are_named(self) -> None:
        features = {k: v for k, v in CUSTOMER.items() if k != "autopay"} | {"colour": 1}
        expected = "missing: autopay; unknown: colour"
        self.assert_bad_request({"features": features}, "invalid_features", expected)

    def test_a_non_numeric_value_is_a_400(self) -> None:
        body = {"features": {**CUSTOMER, "support_calls": "many"}}
        self.assert_bad_request(body, "invalid_features", "'support_calls' must be a finite number")

    def test_a_list_of_the_wrong_length_is_a_400(self) -> None:
        self.assert_bad_request({"features": [1, 2]}, "invalid_features", "expected 6 feature values")

    def test_a_missing_content_length_is_a_411(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(conn.close)
        conn.putrequest("POST", "/predict")
        conn.endheaders()
        response = conn.getresponse()
        self.assertEqual(response.status, 411)
        self.assertEqual(json.loads(response.read())["error"], "length_required")

    def test_a_too_large_body_is_a_413(self) -> None:
        body = json.dumps({"features": CUSTOMER, "padding": "x" * serve.MAX_BODY_BYTES}).encode()
        status, _, payload = request(self.port, "POST", "/predict", raw=body)
        self.assertEqual((status, payload["error"]), (413, "too_large"))

    def test_an_unknown_path_is_a_404(self) -> None:
        status, _, payload = request(self.port, "GET", "/nope")
        self.assertEqual((status, payload["error"]), (404, "not_found"))

    def test_a_wrong_method_is_a_405_that_names_the_allowed_one(self) -> None:
        status, headers, payload = request(self.port, "GET", "/predict")
        self.assertEqual((status, headers["Allow"]), (405, "POST"))
        self.assertEqual(payload["error"], "method_not_allowed")
        self.assertEqual(request(self.port, "DELETE", "/info")[0], 405)


class NotReadyServerTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)

    def test_healthz_is_503_while_the_model_loads(self) -> None:
        with running_server(settings(), load=False) as server:
            status, _, payload = request(server.port, "GET", "/healthz")
            self.assertEqual((status, payload), (503, {"status": "loading"}))
            status, _, payload = request(server.port, "POST", "/predict", {"features": CUSTOMER})
            self.assertEqual((status, payload["error"]), (503, "not_ready"))
            self.assertIsNone(request(server.port, "GET", "/info")[2]["model_sha256"])

    def test_healthz_is_503_with_the_reason_when_the_model_cannot_be_loaded(self) -> None:
        with running_server(settings(self.dir / "absent.json")) as server:
            status, _, payload = request(server.port, "GET", "/healthz")
        self.assertEqual((status, payload["status"]), (503, "failed"))
        self.assertIn("does not exist", payload["error"])

    def test_a_model_whose_sha256_differs_from_MODEL_SHA256_is_refused(self) -> None:
        with running_server(settings(expected_sha256="0" * 64)) as server:
            status, _, payload = request(server.port, "GET", "/healthz")
        self.assertEqual(status, 503)
        self.assertIn("different model than it claims", payload["error"])

    def test_a_matching_MODEL_SHA256_is_accepted(self) -> None:
        with running_server(settings(expected_sha256=SAMPLE_SHA256)) as server:
            self.assertEqual(request(server.port, "GET", "/healthz")[0], 200)

    def test_MODEL_NAME_and_MODEL_VERSION_override_the_file(self) -> None:
        with running_server(settings(model_name="churn-eu", model_version="42")) as server:
            info = request(server.port, "GET", "/info")[2]
            prediction = request(server.port, "POST", "/predict", {"features": CUSTOMER})[2]
        self.assertEqual((info["model_name"], info["model_version"]), ("churn-eu", "42"))
        self.assertEqual((info["model_file_name"], info["model_file_version"]), ("churn", "1.0.0"))
        self.assertEqual(prediction["model_version"], "42")


class SettingsTest(unittest.TestCase):
    def test_it_reads_the_image_environment(self) -> None:
        env = {
            "MODEL_PATH": "/model/model.json",
            "PORT": "9000",
            "MODEL_NAME": "churn",
            "MODEL_VERSION": "3",
            "MODEL_SHA256": "AB" * 32,
            "APP_REVISION": "deadbeef",
        }
        parsed = serve.Settings.from_env(env)
        self.assertEqual(parsed.model_path, Path("/model/model.json"))
        self.assertEqual((parsed.host, parsed.port), ("0.0.0.0", 9000))
        self.assertEqual(parsed.expected_sha256, "ab" * 32)

    def test_IMAGE_ROOT_prefixes_absolute_paths_only(self) -> None:
        absolute = serve.Settings.from_env({"MODEL_PATH": "/model/model.json", "IMAGE_ROOT": "/srv/img"})
        relative = serve.Settings.from_env({"MODEL_PATH": "models/m.json", "IMAGE_ROOT": "/srv/img"})
        self.assertEqual(absolute.model_path, Path("/srv/img/model/model.json"))
        self.assertEqual(relative.model_path, Path("models/m.json"))

    def test_it_explains_what_is_wrong(self) -> None:
        for env, message in (
            ({}, "MODEL_PATH is not set"),
            ({"MODEL_PATH": "m.json", "PORT": "http"}, "PORT must be a number"),
            ({"MODEL_PATH": "m.json", "PORT": "70000"}, "between 0 and 65535"),
        ):
            with self.subTest(env=env), self.assertRaisesRegex(serve.ConfigError, message):
                serve.Settings.from_env(env)


if __name__ == "__main__":
    unittest.main()
