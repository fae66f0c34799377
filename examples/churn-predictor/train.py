"""Train the sample churn model on synthetic customers and write it as JSON.

Deterministic: the same flags give a byte-identical file, so a model can be rebuilt and its
sha256 compared. Standard library only.

    python3 train.py --out models/churn-model.json --seed 1
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scoring import MODEL_FORMAT, sigmoid

FEATURES = (
    "tenure_months",
    "monthly_charges",
    "support_calls",
    "contract_months",
    "autopay",
    "data_usage_gb",
)

# How churn "really" depends on the features in the synthetic population (raw units).
TRUE_WEIGHTS = (-0.045, 0.028, 0.42, -0.07, -0.75, -0.012)
TRUE_INTERCEPT = -0.9
# Centre the true model near typical values so the classes are roughly balanced.
CENTRES = (36.0, 70.0, 1.0, 9.0, 0.5, 25.0)

# Rounding keeps the file small and its bytes independent of last-digit libm differences.
DIGITS = 6


@dataclass(frozen=True)
class Options:
    out: Path
    seed: int
    samples: int
    epochs: int
    learning_rate: float
    l2: float
    name: str
    version: str


def customer(rng: random.Random) -> list[float]:
    tenure = rng.randint(0, 72)
    contract = rng.choice((1, 1, 12, 24))
    return [
        float(tenure),
        round(rng.uniform(20.0, 120.0), 2),
        float(min(10, int(rng.expovariate(0.6)))),
        float(contract),
        float(rng.random() < 0.55),
        round(rng.uniform(0.0, 50.0), 1),
    ]


def synthetic_data(seed: int, samples: int) -> tuple[list[list[float]], list[int]]:
    rng = random.Random(seed)
    rows, labels = [], []
    for _ in range(samples):
        row = customer(rng)
        z = TRUE_INTERCEPT + sum(w * (x - c) for w, x, c in zip(TRUE_WEIGHTS, row, CENTRES, strict=True))
        rows.append(row)
        labels.append(int(rng.random() < sigmoid(z)))
    return rows, labels


def standardisation(rows: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    n = len(rows)
    means = [sum(col) / n for col in zip(*rows, strict=True)]
    stds = []
    for col, mean in zip(zip(*rows, strict=True), means, strict=True):
        std = math.sqrt(sum((x - mean) ** 2 for x in col) / n)
        stds.append(std if std > 0 else 1.0)
    return means, stds


def fit(xs: list[list[float]], ys: list[int], opts: Options) -> tuple[list[float], float]:
    """Full-batch gradient descent on log loss with L2; deterministic for fixed inputs."""
    n, k = len(xs), len(xs[0])
    weights, intercept = [0.0] * k, 0.0
    for _ in range(opts.epochs):
        grad, grad_b = [0.0] * k, 0.0
        for x, y in zip(xs, ys, strict=True):
            err = sigmoid(intercept + sum(w * v for w, v in zip(weights, x, strict=True))) - y
            grad_b += err
            for j in range(k):
                grad[j] += err * x[j]
        for j in range(k):
            weights[j] -= opts.learning_rate * (grad[j] / n + opts.l2 * weights[j])
        intercept -= opts.learning_rate * grad_b / n
    return weights, intercept


def evaluate(
    xs: list[list[float]], ys: list[int], weights: list[float], intercept: float
) -> dict[str, float]:
    eps = 1e-12
    correct, loss = 0, 0.0
    for x, y in zip(xs, ys, strict=True):
        p = sigmoid(intercept + sum(w * v for w, v in zip(weights, x, strict=True)))
        correct += int((p >= 0.5) == bool(y))
        loss -= y * math.log(max(p, eps)) + (1 - y) * math.log(max(1 - p, eps))
    return {"accuracy": round(correct / len(ys), 4), "log_loss": round(loss / len(ys), 4)}


def train(opts: Options) -> dict:
    rows, labels = synthetic_data(opts.seed, opts.samples)
    split = int(len(rows) * 0.8)
    means, stds = standardisation(rows[:split])

    def scale(row: list[float]) -> list[float]:
        return [(x - m) / s for x, m, s in zip(row, means, stds, strict=True)]

    train_x, test_x = [scale(r) for r in rows[:split]], [scale(r) for r in rows[split:]]
    weights, intercept = fit(train_x, labels[:split], opts)
    return {
        "format": MODEL_FORMAT,
        "name": opts.name,
        "version": opts.version,
        "features": [
            {"name": name, "mean": round(m, DIGITS), "std": round(s, DIGITS)}
            for name, m, s in zip(FEATURES, means, stds, strict=True)
        ],
        "weights": [round(w, DIGITS) for w in weights],
        "intercept": round(intercept, DIGITS),
        "threshold": 0.5,
        "labels": ["stay", "churn"],
        "training": {
            "algorithm": "logistic regression, full-batch gradient descent, L2",
            "data": "synthetic customers (train.py)",
            "seed": opts.seed,
            "samples": opts.samples,
            "epochs": opts.epochs,
            "learning_rate": opts.learning_rate,
            "l2": opts.l2,
            "holdout": evaluate(test_x, labels[split:], weights, intercept),
        },
    }


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the model JSON")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=0.5)
    parser.add_argument("--l2", type=float, default=0.001)
    parser.add_argument("--name", default="churn")
    parser.add_argument("--version", default="1.0.0")
    args = parser.parse_args(argv)
    if args.samples < 10 or args.epochs < 1:
        parser.error("--samples must be at least 10 and --epochs at least 1")
    return Options(**vars(args))


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    model = train(opts)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_bytes((json.dumps(model, indent=2) + "\n").encode("utf-8"))
    holdout = model["training"]["holdout"]
    print(f"wrote {opts.out} (holdout accuracy {holdout['accuracy']}, log loss {holdout['log_loss']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
