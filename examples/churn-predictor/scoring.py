"""The churn model: a logistic regression stored as a small JSON document.

Standard library only, so the app runs with any Python 3.11 interpreter, in the image or on
a host that unpacked the image's layers. ``train.py`` writes the same format.

Format (``"format": "logistic-regression/v1"``)::

    {
      "format": "logistic-regression/v1",
      "name": "churn-model", "version": "1.0.0",
      "features": [{"name": "tenure_months", "mean": 35.1, "std": 20.4}, ...],
      "weights": [-0.81, ...],          # one per feature, for standardised values
      "intercept": -1.2,
      "threshold": 0.5,                 # probability at or above which the prediction is positive
      "labels": ["stay", "churn"],      # [negative, positive]
      "training": {...}                 # how it was made; informational only
    }
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_FORMAT = "logistic-regression/v1"

# A model file larger than this is not one of ours; refusing it early beats exhausting memory.
MAX_MODEL_BYTES = 16 * 1024 * 1024


class ModelError(Exception):
    """The model file is missing, unreadable or not in the expected format."""


class InputError(ValueError):
    """The features sent for a prediction do not fit the model."""


@dataclass(frozen=True)
class Feature:
    name: str
    mean: float
    std: float


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float  # of the positive label


@dataclass(frozen=True)
class LogisticModel:
    name: str
    version: str
    features: tuple[Feature, ...]
    weights: tuple[float, ...]
    intercept: float
    threshold: float
    labels: tuple[str, str]

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def predict(self, features: Mapping[str, Any] | Sequence[Any]) -> Prediction:
        """Score one example given as ``{name: value}`` or as values in feature order."""
        values = self.vector(features)
        z = self.intercept
        for feature, weight, value in zip(self.features, self.weights, values, strict=True):
            z += weight * (value - feature.mean) / feature.std
        probability = sigmoid(z)
        label = self.labels[1] if probability >= self.threshold else self.labels[0]
        return Prediction(label=label, probability=probability)

    def vector(self, features: Mapping[str, Any] | Sequence[Any]) -> list[float]:
        """Turn request features into numbers in model order, or raise InputError saying what is wrong."""
        if isinstance(features, Mapping):
            return self._vector_from_mapping(features)
        if isinstance(features, Sequence) and not isinstance(features, str | bytes):
            if len(features) != len(self.features):
                raise InputError(
                    f"expected {len(self.features)} feature values in this order: "
                    f"{', '.join(self.feature_names)}; got {len(features)}"
                )
            return [_number(name, value) for name, value in zip(self.feature_names, features, strict=True)]
        raise InputError('"features" must be an object of name/value pairs or a list of values')

    def _vector_from_mapping(self, features: Mapping[str, Any]) -> list[float]:
        missing = [name for name in self.feature_names if name not in features]
        unknown = sorted(set(features) - set(self.feature_names))
        if missing or unknown:
            problems = []
            if missing:
                problems.append(f"missing: {', '.join(missing)}")
            if unknown:
                problems.append(f"unknown: {', '.join(unknown)}")
            raise InputError(f"features do not match the model ({'; '.join(problems)})")
        return [_number(name, features[name]) for name in self.feature_names]


@dataclass(frozen=True)
class LoadedModel:
    model: LogisticModel
    path: str
    sha256: str  # of the exact bytes the model was parsed from
    size: int


def sigmoid(z: float) -> float:
    # Split by sign so math.exp never overflows for large |z|.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def load_model(path: str | Path) -> LoadedModel:
    """Read, hash and parse a model file; raise ModelError with a message an operator can act on."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(f"model file {path} is {size} bytes, more than the {MAX_MODEL_BYTES} allowed")
        # Hash the very bytes we parse, so the reported sha256 always describes the loaded model.
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"model file {path} does not exist") from None
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    try:
        document = json.loads(data, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"model file {path} is not valid JSON: {exc}") from None
    model = parse_model(document, source=str(path))
    return LoadedModel(model=model, path=str(path), sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def parse_model(document: Any, *, source: str = "model") -> LogisticModel:
    """Validate a decoded model document and build the model from it."""
    if not isinstance(document, dict):
        raise ModelError(f"{source}: the model must be a JSON object")
    if document.get("format") != MODEL_FORMAT:
        found = document.get("format")
        raise ModelError(f"{source}: unsupported format {found!r}, expected {MODEL_FORMAT!r}")
    try:
        features = tuple(_feature(item) for item in document["features"])
        weights = tuple(_finite(w) for w in document["weights"])
        model = LogisticModel(
            name=str(document["name"]),
            version=str(document["version"]),
            features=features,
            weights=weights,
            intercept=_finite(document["intercept"]),
            threshold=_finite(document.get("threshold", 0.5)),
            labels=_labels(document.get("labels", ["negative", "positive"])),
        )
    except KeyError as exc:
        raise ModelError(f"{source}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{source}: {exc}") from None
    _check_shape(model, source)
    return model


def _check_shape(model: LogisticModel, source: str) -> None:
    if not model.features:
        raise ModelError(f"{source}: the model has no features")
    if len(model.weights) != len(model.features):
        raise ModelError(f"{source}: {len(model.weights)} weights for {len(model.features)} features")
    if len(set(model.feature_names)) != len(model.features):
        raise ModelError(f"{source}: feature names are not unique")
    if not 0.0 < model.threshold < 1.0:
        raise ModelError(f"{source}: threshold must be between 0 and 1")


def _feature(item: Any) -> Feature:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise ValueError("each feature needs a non-empty string name")
    std = _finite(item.get("std", 1.0))
    if std <= 0:
        raise ValueError(f"feature {item['name']!r} has a non-positive std")
    return Feature(name=item["name"], mean=_finite(item.get("mean", 0.0)), std=std)


def _labels(value: Any) -> tuple[str, str]:
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, str) for v in value):
        raise ValueError("labels must be a list of two strings: [negative, positive]")
    return value[0], value[1]


def _finite(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value)


def _number(name: str, value: Any) -> float:
    # Booleans are accepted as 1/0 because yes/no features (autopay) are natural to send as JSON true/false.
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    raise InputError(f"feature {name!r} must be a finite number, got {json.dumps(value)}")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")
