"""Benchmark: jets/s the jet task's training loader delivers from HDF5 shards, with 0 and N workers side by side.

For each worker count, the same ``JetDataModule`` training stream (same seed, so the same batches: checked and
printed) is read for ``--batches`` batches after a first one that pays the workers' start-up (printed apart).
Prints jets/s, jets/s per worker, and the ratio to the in-process loader (``workers=0``). Beside them, the
resident path (``resident_data``, :mod:`jetscale.data.resident`): the training set read once onto
``--resident-device`` (that read printed apart), then the same batches gathered there by index. With
``--consumes R`` (jets/s a training step takes, e.g. ParT at width 64 from benchmarks/gpu.py on a GPU) it
also prints loader / consumer and PASS when the loader keeps up (>= 1).

    python benchmarks/loader.py [--dataset DIR] [--workers 0 1 2] [--batch-size 256] [--batches 40]
                                [--consumes JETS_PER_S] [--resident-device cpu|cuda]

Without ``--dataset`` it generates 2 x 2000 Pythia jets in a temporary directory first (about 30 s).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from jetscale.data.jet_dataset import JetDataModule
from jetscale.data.resident import resident_batches
from jetscale.data.shards import load_manifest


def synchronize(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def training_batches(dataset: Path, workers: int, batch_size: int, n_batches: int, n_test: int,
                     resident: str | None = None):
    """(seconds of the first batch, seconds of the next ``n_batches``, (labels, constituents) of every batch on
    the CPU); ``resident``: a device to hold the training set and gather the batches on (its read counts as the
    first batch's time)."""
    total = load_manifest(dataset, verify=False)["total_jets"]
    module = JetDataModule(dataset, n_train=total - n_test, n_test=n_test, batch_size=batch_size,
                           num_workers=workers, seed=0, verify=False)
    module.setup()
    start = time.perf_counter()
    loader = module.train_dataloader()
    if resident:
        loader = resident_batches(loader, resident, max_bytes=2**62)  # no threshold: only the free memory's
        if loader is None:
            raise SystemExit(f"the training set does not fit in half the free memory of {resident}: use fewer jets")
    batches = iter(loader)
    read = [next(batches)]
    synchronize(resident or "cpu")
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(n_batches):
        read.append(next(batches))
    synchronize(resident or "cpu")
    elapsed = time.perf_counter() - start
    return first, elapsed, [(batch["label"].cpu(), batch["constituents"].cpu()) for batch in read]


def same_batches(got: list, want: list) -> bool:
    return len(got) == len(want) and all(torch.equal(a, b) for g, w in zip(got, want) for a, b in zip(g, w))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, help="a shard directory with manifest.json (default: generate one)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=40, help="batches timed per worker count (after the first)")
    parser.add_argument("--n-test", type=int, default=200, help="jets held out for the test split (even)")
    parser.add_argument("--consumes", type=float, help="jets/s a training step consumes (from benchmarks/gpu.py)")
    parser.add_argument("--resident-device", default="cpu", help="device of the resident path (cpu, cuda, ...)")
    args = parser.parse_args(argv)
    if 0 not in args.workers:
        parser.error("--workers must include 0: the ratios are to the in-process loader")
    with tempfile.TemporaryDirectory() as tmp:
        dataset = args.dataset
        if dataset is None:
            from jetscale.cli import main as jetscale

            dataset = Path(tmp) / "jets"
            jetscale(["generate", "--shards", "0-1", "--jets-per-shard", "2000", "--out", str(dataset)])
        total = load_manifest(dataset, verify=False)["total_jets"]
        print(f"{dataset}: {total} jets; batch {args.batch_size}, {args.batches} batches timed per worker count")
        rates, reference = {}, None
        for workers in sorted(set(args.workers)):
            first, elapsed, labels = training_batches(dataset, workers, args.batch_size, args.batches, args.n_test)
            rates[workers] = args.batches * args.batch_size / elapsed
            same = reference is None or same_batches(labels, reference)
            reference = reference or labels
            per_worker = rates[workers] / max(workers, 1)
            print(f"workers={workers}: {rates[workers]:.1f} jets/s ({per_worker:.1f} per worker), first batch "
                  f"{first:.2f} s, same batches as workers=0: {'yes' if same else 'NO'}")
        device = args.resident_device
        first, elapsed, batches = training_batches(dataset, max(args.workers), args.batch_size, args.batches,
                                                   args.n_test, resident=device)
        resident = args.batches * args.batch_size / elapsed
        print(f"resident on {device}: {resident:.1f} jets/s, training set read once in {first:.2f} s "
              f"(workers={max(args.workers)}), same batches as workers=0: "
              f"{'yes' if same_batches(batches, reference) else 'NO'}")
        for workers, rate in rates.items():
            if workers:
                print(f"ratio workers={workers} / workers=0: {rate / rates[0]:.2f}")
        print(f"ratio resident / workers=0: {resident / rates[0]:.2f}")
        best = max(rates, key=rates.get)
        if args.consumes:
            verdict = "PASS" if rates[best] >= args.consumes else "FAIL"
            print(f"loader (workers={best}) / consumer: {rates[best] / args.consumes:.2f} ({verdict}: the loader "
                  f"must deliver >= {args.consumes:.0f} jets/s)")
            print(f"resident / consumer: {resident / args.consumes:.2f}")
        else:
            print("no consumer rate given (--consumes: jets/s of a training step, from benchmarks/gpu.py on a GPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
