"""Benchmark: a Lightning training step costs at most 5 % more than a plain PyTorch loop.

Model and data: the PFN top tagger of ``task=jets`` (``configs/model/pfn.yaml``:
``JetClassifier`` around ``PFN(width, depth=2)``, Adam lr 1e-3), built from the composed
config, on synthetic batches shaped like ``JetDataModule``'s (``constituents`` float32
[B, C, 4], ``mask`` bool [B, C], ``label`` float32 [B]; C = 200, B = 256 as configured),
held in memory: 20 distinct batches served in an endless cycle by a ``DataLoader(batch_size=None)``,
a stream without epoch boundaries like the one ``jetscale.data.sampling`` feeds training.

The plain loop is the module's own recipe on a second copy of the model (same initial
weights) with its own optimizer: ``zero_grad; objective(net(*net_inputs(batch))).backward();
step``.  It is interleaved *step by step* with Lightning, so that both see the same
background load: each time Lightning fetches batch k, the dataset first runs (and times)
plain step k on it.  Between two fetches the clock therefore holds one Lightning step plus
one plain step, and

    Lightning step k = (fetch k to fetch k+1) − (plain step k+1)

for the M steps after W warm-up steps (Trainer construction, setup and the warm-up excluded;
the plain step runs with deterministic algorithms off, whatever the Trainer set globally).
Lightning variants:

* ``bare``: ``Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
  enable_progress_bar=False, enable_model_summary=False)``;
* ``jetscale``: ``jetscale.train.fit_lightning`` on the composed ``task=jets`` config —
  ``configs/trainer/cpu.yaml`` (deterministic, log_every_n_steps=10), the CSV logger and the
  ModelCheckpoint every ``checkpoint_every_n_steps``: what ``jetscale train`` runs.

Overhead = (Lightning / plain) − 1 of each block of ``log_every_n_steps`` (10) consecutive
timed steps — each block holds one logging step — and the reported figure is the median over
all blocks of all rounds (robust to bursts of background load); the ratio of whole runs (mean
over M = 100 steps, median over rounds) is printed too and is the one that counts costs rarer
than a block, such as the checkpoint every 100 steps.  Rounds run the variants in a rotating
order.  An A/A control — a second plain loop (fetching one batch ahead, as Lightning's
prefetcher does) timed against the interleaved one exactly as Lightning is — runs in every
round and shows the method's own bias and noise.  If a variant exceeds the target, each jetscale
setting is added alone to the bare Trainer (``--ablate`` forces this) to name the one that
costs it.  On a shared machine, 2 torch threads on 2 cores suffer badly from other processes
(a step can take 5x longer); ``--threads 1`` gives steadier numbers.

    python benchmarks/lightning_overhead.py [--rounds 7] [--warmup 10] [--steps 100] [--batch 256]
                                            [--width 64] [--threads N] [--ablate]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import statistics
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import lightning as L
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, Dataset, Sampler

from jetscale.physics.kinematics import MAX_CONSTITUENTS
from jetscale.launch import Launch, trainer_settings
from jetscale.paths import CONFIG_DIR
from jetscale.train import fit_lightning

TARGET = 0.05
CONTROL = "A/A control: plain loop vs itself"
N_BATCHES = 20  # distinct in-memory batches, cycled


def synthetic_batch(rng: np.random.Generator, batch: int, width: int = MAX_CONSTITUENTS) -> dict[str, torch.Tensor]:
    """One batch as ``JetDataModule`` collates it: 20-120 pT-ordered constituents (pT, η, φ, E) a jet
    around a random axis, zero-padded to ``width``; labels alternate QCD, top."""
    counts = rng.integers(20, 121, size=batch)
    mask = np.arange(width)[None, :] < counts[:, None]  # [B, C]
    pt = -np.sort(-rng.exponential(10.0, size=(batch, width)), axis=1)
    eta = rng.uniform(-2, 2, size=(batch, 1)) + rng.normal(0, 0.3, size=(batch, width))
    phi = rng.uniform(-np.pi, np.pi, size=(batch, 1)) + rng.normal(0, 0.3, size=(batch, width))
    parts = np.stack([pt, eta, phi, pt * np.cosh(eta)], axis=-1) * mask[..., None]  # [B, C, 4]
    return {"constituents": torch.tensor(parts, dtype=torch.float32), "mask": torch.tensor(mask),
            "label": torch.tensor(np.arange(batch) % 2, dtype=torch.float32)}


class PlainLoop:
    """The plain PyTorch training step, with the module's own inputs, objective and optimizer."""

    def __init__(self, model):
        self.model, self.optimizer = model.train(), model.make_optimizer(model.net.parameters())

    def step(self, batch: dict) -> None:
        self.optimizer.zero_grad()
        loss = self.model.objective(self.model.net(*self.model.net_inputs(batch)), batch)
        loss.backward()
        self.optimizer.step()


@contextmanager
def determinism(enabled: bool | None = None):
    """Inside: torch's deterministic-algorithms flag set to ``enabled`` (unchanged if None); on exit, restored
    (a Trainer with ``deterministic=True`` sets it globally and leaves it set)."""
    saved = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    if enabled is not None:
        torch.use_deterministic_algorithms(enabled)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])


class InterleavedBatches(Dataset):
    """Fixed in-memory batches.  A fetch first runs one ``plain`` step on the batch (timed into ``plain_s``),
    then stamps ``perf_counter()`` into ``stamps``."""

    def __init__(self, batches: list[dict], plain: PlainLoop):
        self.batches, self.plain, self.plain_s, self.stamps = batches, plain, [], []

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict:
        with determinism(False), torch.enable_grad():  # a plain loop asks for neither determinism nor no_grad
            start = time.perf_counter()
            self.plain.step(self.batches[i])
            self.plain_s.append(time.perf_counter() - start)
        self.stamps.append(time.perf_counter())
        return self.batches[i]


class InMemoryData(L.LightningDataModule):
    """What ``fit_lightning`` needs of a datamodule: ``batch_size`` and ``train_dataloader``."""

    def __init__(self, data: InterleavedBatches, batch_size: int):
        super().__init__()
        self.data, self.batch_size = data, batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.data, batch_size=None, sampler=Cycle(len(self.data)))


class Cycle(Sampler[int]):
    """0, 1, ..., n − 1, 0, 1, ... without end (training length is set by the steps, as in jetscale)."""

    def __init__(self, n: int):
        self.n = n

    def __iter__(self):
        return (i % self.n for i in itertools.count())


def compose_config(width: int, total_steps: int):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=["task=jets", f"width={width}",
                                                       f"trainer.max_steps={total_steps}"])


BARE = dict(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False)


def bare_trainer(run_dir: Path, total_steps: int, **changes) -> L.Trainer:
    return L.Trainer(**{**BARE, "max_steps": total_steps, "default_root_dir": str(run_dir), **changes})


def ablations(cfg) -> dict:
    """Each jetscale setting alone on the bare Trainer: name -> (run_dir, total_steps) -> Trainer."""
    tc = cfg.trainer
    return {
        f"bare + deterministic={tc.deterministic}": lambda d, n: bare_trainer(d, n, deterministic=tc.deterministic),
        f"bare + CSV logger, log_every_n_steps={tc.log_every_n_steps}": lambda d, n: bare_trainer(
            d, n, logger=CSVLogger(str(d), name="csv"), log_every_n_steps=tc.log_every_n_steps),
        f"bare + ModelCheckpoint every {cfg.checkpoint_every_n_steps} steps": lambda d, n: bare_trainer(
            d, n, enable_checkpointing=True, callbacks=[ModelCheckpoint(
                dirpath=d / "checkpoints", save_last=True, save_top_k=0,
                every_n_train_steps=cfg.checkpoint_every_n_steps)]),
    }


def fresh_model(cfg):
    torch.manual_seed(0)  # every run and both loops start from the same weights
    return instantiate(cfg.model)


def timed_run(variant: str, cfg, batches: list[dict], batch_size: int, warmup: int, steps: int,
              trainers: dict) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of each of the ``steps`` timed steps of one fresh run: (variant's, interleaved plain's)."""
    total = warmup + steps + 1
    data = InterleavedBatches(batches, PlainLoop(fresh_model(cfg)))
    model = fresh_model(cfg)
    with tempfile.TemporaryDirectory() as tmp, determinism():
        run_dir, datamodule = Path(tmp), InMemoryData(data, batch_size)
        if variant == CONTROL:
            loop, loader = PlainLoop(model), iter(datamodule.train_dataloader())
            upcoming = next(loader)
            while len(data.stamps) < total:
                current, upcoming = upcoming, next(loader)  # one batch ahead, as Lightning's prefetcher
                loop.step(current)
        elif variant == "jetscale":
            loggers = [instantiate(logger_cfg, save_dir=str(run_dir)) for logger_cfg in cfg.logger.values()]
            layout = trainer_settings(cfg.trainer.devices, cfg.trainer.num_nodes, Launch())
            fit_lightning(model, datamodule, cfg, run_dir, loggers, launch=Launch(), layout=layout)
        else:
            trainers[variant](run_dir, total).fit(model, datamodule=datamodule)
    if len(data.stamps) < total:
        raise RuntimeError(f"{variant}: only {len(data.stamps)} batches fetched, expected {total}")
    between = np.diff(data.stamps[warmup: warmup + steps + 1])  # fetch k to k+1: step k (+ plain step k+1)
    plain = np.array(data.plain_s[warmup + 1: warmup + steps + 1])
    return between - plain, plain


def measure(variants: list[str], rounds: int, **kwargs) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    times = {v: [] for v in variants}
    for r in range(rounds):  # rotate the order so no variant always runs first or right after another
        for k in range(len(variants)):
            v = variants[(r + k) % len(variants)]
            times[v].append(timed_run(v, **kwargs))
    return times


def block_overheads(runs: list[tuple[np.ndarray, np.ndarray]], block: int) -> np.ndarray:
    """Lightning / plain − 1 over every block of ``block`` consecutive steps of every run."""
    ratios = []
    for mine, plain in runs:
        n = len(mine) // block * block
        ratios.append(mine[:n].reshape(-1, block).sum(1) / plain[:n].reshape(-1, block).sum(1) - 1)
    return np.concatenate(ratios)


def report(times: dict, block: int) -> dict[str, float]:
    """Print ms/step (median over runs of the run's mean) and the overheads; return the block-median ones."""
    print(f"  {'':<52s} {'ms/step':>8s} {'plain':>7s}   {'overhead: blocks':>16s} {'(quartiles)':>15s} "
          f"{'whole runs':>11s}")
    medians = {}
    for v, runs in times.items():
        mine, plain = (1e3 * statistics.median(float(run[k].mean()) for run in runs) for k in (0, 1))
        blocks = block_overheads(runs, block)
        whole = statistics.median(float(m.sum() / p.sum()) - 1 for m, p in runs)
        medians[v] = float(np.median(blocks))
        q1, q3 = np.percentile(blocks, [25, 75])
        name = v if v == CONTROL else f"Lightning, {v}"
        print(f"  {name:<52s} {mine:8.2f} {plain:7.2f}   {100 * medians[v]:+15.1f}% "
              f"{f'{100 * q1:+.1f}..{100 * q3:+.1f}%':>15s} {100 * whole:+10.1f}%")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=10, help="steps dropped at the start of every run")
    parser.add_argument("--steps", type=int, default=100, help="steps timed per run (after the warm-up)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--ablate", action="store_true", help="time each jetscale setting alone even if all pass")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # Lightning's advice (num_workers, log interval) is not under test here
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)

    cfg = compose_config(args.width, args.warmup + args.steps + 1)
    rng = np.random.default_rng(0)
    batches = [synthetic_batch(rng, args.batch) for _ in range(N_BATCHES)]
    common = dict(cfg=cfg, batches=batches, batch_size=args.batch, warmup=args.warmup, steps=args.steps)
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads, "
          f"lightning {L.__version__}, load average {os.getloadavg()[0]:.2f} at start")
    print(f"PFN(width={args.width}, depth={cfg.model.net.depth}), batch {args.batch} x {MAX_CONSTITUENTS} "
          f"constituents; {args.rounds} rounds of {args.warmup} warm-up + {args.steps} timed steps, "
          "plain steps interleaved:")
    trainers = {"bare": bare_trainer}
    block = cfg.trainer.log_every_n_steps
    medians = report(measure([CONTROL, "bare", "jetscale"], args.rounds, trainers=trainers, **common), block)
    bias = medians.pop(CONTROL)
    for v, overhead in medians.items():
        print(f"ratio Lightning {v} / plain: {1 + overhead:.3f}, overhead {100 * overhead:+.1f} % "
              f"(target <= {100 * TARGET:.0f} %: {'PASS' if overhead <= TARGET else 'FAIL'})")
    print(f"(the A/A control, a plain loop timed the same way against itself, reads {100 * bias:+.1f} %: "
          "the method's own bias and noise)")
    if max(medians.values()) > TARGET or args.ablate:
        print("each jetscale setting alone on the bare Trainer (which one costs the overhead? "
              "compare with the bare row):")
        extra = ablations(cfg)
        report(measure(["bare", *extra], args.rounds, trainers={**trainers, **extra}, **common), block)


if __name__ == "__main__":
    main()
