"""Thrust learning curves of JSL's pipeline and jetscale's on one snapshot group, by JSL's protocol (docs/jsl.md).

``python workflow/scripts/jsl_thrust_comparison.py SNAPSHOTS.h5 --k 6 --out results/jsl_thrust.json``

Protocol of ThrustScalingLaws.ipynb ``ridge_learning_curve``: the last ``n_test`` events are the test set, the
rest the pool; features standardised and y centred on the pool; for each training size P, ``repeats``
subsamples of the pool, ridge (X^T X + P alpha I) w = X^T y; mean test MSE. Floor = MSE at the largest P;
slope = least squares of log(MSE - floor) on log P over P in [100, 8000] (JSL's ``train_sizes_t[-12:-1]``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SIZES = [3, 5, 8, 10, 30, 50, 80, 100, 200, 300, 400, 500, 700, 1000, 2000, 3000, 5000, 8000, 15000]
SLOPE_SIZES = SIZES[-12:-1]


def learning_curve(x: np.ndarray, y: np.ndarray, alpha: float, n_test: int, repeats: int) -> np.ndarray:
    """Mean test MSE [len(SIZES)] by JSL's protocol (module docstring)."""
    pool_x, pool_y, test_x, test_y = x[:-n_test], y[:-n_test], x[-n_test:], y[-n_test:]
    mu, sd = pool_x.mean(axis=0), pool_x.std(axis=0)
    sd[sd == 0] = 1.0
    pool_x, test_x = (pool_x - mu) / sd, (test_x - mu) / sd
    y_mu = pool_y.mean()
    pool_y, test_y = pool_y - y_mu, test_y - y_mu
    out = []
    for n in SIZES:
        losses = []
        for s in range(repeats):
            rows = np.random.default_rng(s).choice(len(pool_x), size=n, replace=False)
            a, b = pool_x[rows], pool_y[rows]
            w = np.linalg.solve(a.T @ a + alpha * n * np.eye(a.shape[1]), a.T @ b)
            losses.append(np.mean((test_x @ w - test_y) ** 2))
        out.append(float(np.mean(losses)))
    return np.asarray(out)


def floor_and_slope(mse: np.ndarray) -> tuple[float, float]:
    """JSL's floor (MSE at the largest P) and slope of MSE - floor over :data:`SLOPE_SIZES`."""
    rows = [SIZES.index(n) for n in SLOPE_SIZES]
    excess = mse[rows] - mse[-1]
    if np.any(excess <= 0):
        return float(mse[-1]), float("nan")
    return float(mse[-1]), float(np.polyfit(np.log(SLOPE_SIZES), np.log(excess), 1)[0])


def main() -> None:
    from jetscale.features import efp_ee, special_efp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshots")
    parser.add_argument("--k", type=int, default=6, help="branchings (N = k + 2 partons; JSL's N = 8 is k = 6)")
    parser.add_argument("--n-test", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    jsl = special_efp.snapshot_features(args.snapshots, args.k)
    linear = efp_ee.snapshot_features(args.snapshots, args.k, 5, 2.0)
    if not np.array_equal(jsl["event_id"], linear["event_id"]):
        raise ValueError(f"{args.snapshots} k = {args.k}: the two feature sets list different events")
    pipelines = {"jsl: log special EFPs d<=20, alpha 1e-12": (jsl["efp"], 1e-12),
                 "jetscale: EFPs d<=5 beta 2, ridge 1e-6": (linear["efp"], 1e-6),
                 "jetscale features, alpha 1e-12": (linear["efp"], 1e-12)}
    rows = []
    for name, (x, alpha) in pipelines.items():
        for target in ("thrust", "thrust_scan"):
            mse = learning_curve(x, jsl[target], alpha, args.n_test, args.repeats)
            floor, slope = floor_and_slope(mse)
            rows.append({"pipeline": name, "target": target, "n_features": x.shape[1], "floor": floor,
                         "slope": slope, "mse": mse.tolist(), "test_variance": float(jsl[target][-args.n_test:].var())})
            print(f"{name:45s} {target:12s} floor {floor:.3e}  slope {slope:+.3f}  (var {rows[-1]['test_variance']:.3e})",
                  flush=True)
    gap = jsl["thrust"] - jsl["thrust_scan"]
    payload = {"snapshots": str(args.snapshots), "k": args.k, "n_partons": args.k + 2, "n_events": len(gap),
               "n_test": args.n_test, "repeats": args.repeats, "sizes": SIZES, "slope_sizes": SLOPE_SIZES,
               "thrust_minus_scan": {"mean": float(gap.mean()), "median": float(np.median(gap)),
                                     "max": float(gap.max()), "fraction_equal": float(np.mean(gap < 1e-12))},
               "rows": rows, "seconds": time.perf_counter() - start}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=1))
    print(f"thrust - thrust_scan: {payload['thrust_minus_scan']}; wrote {args.out}")


if __name__ == "__main__":
    main()
