"""Bundles: K sweep points in one scheduler job, each still its own run dir and metrics file.

Schedulers choke on thousands of tiny jobs, and Snakemake's group jobs run their
members one after another on Slurm.  With ``bundle_size: K`` (workflow config;
the cluster profiles set it) the workflow's ``train_bundle`` rule submits one
job per bundle, and inside it :func:`run_bundle` runs the points side by side:

* one point per device slot: each member process gets its own
  ``CUDA_VISIBLE_DEVICES`` (the allocation's GPUs, one each) or, with ``--accelerator xpu`` (Aurora),
  ``ZE_AFFINITY_MASK`` (one Intel GPU tile each); without devices,
  ``--cpu-slots`` members at a time (the job's threads) sharing the job's CPU cores;
* or, with ``bundle_pack: true``, the bundle as packed ensembles (:mod:`jetscale.packed`), for points
  that differ only in seed and n_samples (:func:`bundles` then groups them so): one pack in this process on
  the CPU or a single device; with ``--accelerator gpu|xpu`` and G devices, G ``jetscale train-packed``
  processes, one per device slot (:func:`device_packs`). Which to choose: docs/gpu.md.

Resume stays per point: a member whose ``metrics.json`` exists (trained with the
member's overrides) is skipped, an interrupted one resumes from its ``last.ckpt``, and the bundle's flag file (the
Snakemake output) appears only when every member has finished.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from jetscale.results import override_mismatch, read_metrics
from jetscale.sweep import PACK_AXES, RUN_ID_SEPARATOR, point_overrides

log = logging.getLogger(__name__)
PREEMPTED_EXIT = 75  # as jetscale.checkpoints (not imported: that pulls in torch)


def bundles(points: dict[str, dict], size: int, pack: bool = False) -> dict[str, list[str]]:
    """Run ids in bundles of at most ``size``, named ``bundle-000``, ... in sweep order.

    With ``pack``, a bundle only holds points that agree on every axis but ``PACK_AXES``
    (so it can be trained as one packed ensemble).
    """
    if size < 1:
        raise ValueError(f"bundle_size must be at least 1, got {size}")
    groups: dict[tuple, list[str]] = {}
    for rid, point in points.items():
        key = tuple((k, v) for k, v in point.items() if k not in PACK_AXES) if pack else ()
        groups.setdefault(key, []).append(rid)
    chunks = [ids[i:i + size] for ids in groups.values() for i in range(0, len(ids), size)]
    return {f"bundle-{n:03d}": chunk for n, chunk in enumerate(chunks)}


CUDA_MASK, XPU_MASK = "CUDA_VISIBLE_DEVICES", "ZE_AFFINITY_MASK"  # the variable that gives a member its device


def slot_variable(accelerator: str | None) -> str:
    """The variable that hands each member its device: Intel tiles (``xpu``) by ``ZE_AFFINITY_MASK``, NVIDIA
    GPUs by ``CUDA_VISIBLE_DEVICES``."""
    return XPU_MASK if accelerator == "xpu" else CUDA_MASK


def device_slots(environ=os.environ, cpu_slots: int = 1, gpu_count=None, variable: str = CUDA_MASK) -> list[str | None]:
    """One entry per concurrent member: the allocation's devices, else ``cpu_slots`` CPU slots (None: no device).

    The devices are ``variable``'s list when the scheduler sets it (Slurm with --gpus), else every device torch
    sees (PBS on Polaris and Aurora sets nothing): CUDA GPUs, or Intel GPU tiles for ``ZE_AFFINITY_MASK``
    (12 per Aurora node with ``ZE_FLAT_DEVICE_HIERARCHY=FLAT``). ``gpu_count`` replaces torch's count (tests).
    """
    if variable in environ:
        visible = [d.strip() for d in environ[variable].split(",") if d.strip()]
    else:
        visible = [str(i) for i in range((gpu_count or _device_count(variable))())]
    return visible or [None] * max(1, cpu_slots)


def _device_count(variable: str):
    def count() -> int:
        import torch

        from jetscale.xpu import xpu_count

        return xpu_count() if variable == XPU_MASK else torch.cuda.device_count()

    return count


@dataclass
class Member:
    run_dir: Path
    command: list[str]
    overrides: list[str] | None = None  # the point's; None: any metrics.json counts as finished

    @property
    def done(self) -> bool:
        """Finished: its metrics.json exists and was trained with its overrides (a sweep edited since reruns it)."""
        path = self.run_dir / "metrics.json"
        if not path.exists():
            return False
        if self.overrides is None:
            return True
        try:
            mismatch = override_mismatch(read_metrics(path), self.overrides)
        except ValueError:
            return False
        if mismatch:
            log.info("%s: its metrics.json is of other overrides (%s): training it again", self.run_dir.name, mismatch)
        return mismatch is None


@dataclass
class Pack(Member):
    """A member that is one ``jetscale train-packed`` process of several points (its ``run_dir``, where its
    train.log goes, is the first point's): finished when every point is."""

    points: list[Member] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return all(point.done for point in self.points)


def packed_command(run_dirs: list[Path], overrides: list[str]) -> list[str]:
    """``jetscale train-packed`` of the points of ``run_dirs`` (each point's overrides from its run dir's name)."""
    return ["jetscale", "train-packed", *(arg for d in run_dirs for arg in ("--run-dir", str(d))), *overrides]


def device_packs(run_dirs: list[Path], overrides: list[str], n_slots: int) -> list[Pack]:
    """The unfinished points of a packed bundle cut into at most ``n_slots`` packs of nearly equal size (a pack's
    points share a batch size and step count, so its cost is its size), in bundle order."""
    points = [Member(d, [], [*overrides, *point_overrides(d.name)]) for d in run_dirs]
    for point in points:
        if point.done:
            log.info("%s: finished before, skipped", point.run_dir.name)
    pending = [point for point in points if not point.done]
    n = min(n_slots, len(pending))
    chunks = [pending[i * len(pending) // n:(i + 1) * len(pending) // n] for i in range(n)]
    return [Pack(chunk[0].run_dir, packed_command([p.run_dir for p in chunk], overrides), points=chunk)
            for chunk in chunks]


def train_command(run_dir: Path, overrides: list[str]) -> list[str]:
    """``jetscale train`` of one member: common overrides, the point's own (from its run id), its run dir."""
    # quoted for Hydra: run ids contain "="
    return ["jetscale", "train", *overrides, *point_overrides(run_dir.name), f'hydra.run.dir="{run_dir}"']


# Every thread pool a member may start (Snakemake sets all of them to the job's threads; torch's MKL BLAS reads
# MKL_NUM_THREADS, not OMP_NUM_THREADS): each CPU member gets its share of the job's cores in each.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "GOTO_NUM_THREADS")


def member_env(device: str | None, n_slots: int, environ=os.environ, variable: str = CUDA_MASK,
               cores: int | None = None) -> dict:
    """A member's environment: its device (``variable`` = the slot's GPU or tile), or, on CPU slots, its share
    of the job's ``cores`` (default: the CPUs this process may run on) in every thread pool."""
    env = dict(environ)
    if device is not None:
        env[variable] = device
    else:
        if cores is None:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        env.update(dict.fromkeys(THREAD_VARIABLES, str(max(1, cores // n_slots))))
    return env


def run_bundle(members: list[Member], slots: list[str | None], poll_s: float = 0.2,
               variable: str = CUDA_MASK) -> dict[Path, int]:
    """Run the unfinished members, at most one per slot at a time; return each one's exit status.

    Every member runs even when another fails; each writes ``<run_dir>/train.log``.
    """
    pending = [m for m in members if not m.done]
    for m in members:
        if m.done:
            log.info("%s: finished before, skipped", m.run_dir.name)
    free, running, status = list(slots), {}, {}
    while pending or running:
        while pending and free:
            member, device = pending.pop(0), free.pop(0)
            member.run_dir.mkdir(parents=True, exist_ok=True)
            with open(member.run_dir / "train.log", "ab") as out:
                process = subprocess.Popen(member.command, stdout=out, stderr=subprocess.STDOUT,
                                           env=member_env(device, len(slots), variable=variable))
            running[process] = (member, device)
            log.info("%s: started on %s (pid %d)", member.run_dir.name,
                     f"{variable}={device}" if device is not None else "CPU", process.pid)
        time.sleep(poll_s)
        for process in [p for p in running if p.poll() is not None]:
            member, device = running.pop(process)
            free.append(device)
            status[member.run_dir] = process.returncode
            log.info("%s: exit %d", member.run_dir.name, process.returncode)
    return status


def bundle_exit(status: dict[Path, int]) -> int:
    """0 when every member succeeded; 75 when any was preempted (rerun to resume); else 1."""
    failed = {d: rc for d, rc in status.items() if rc != 0}
    if not failed:
        return 0
    for run_dir, rc in failed.items():
        log.error("%s failed (exit %d); see %s", run_dir.name, rc, run_dir / "train.log")
    return PREEMPTED_EXIT if PREEMPTED_EXIT in failed.values() else 1


def sweep_bundle(sweep_name: str, bundle: str, size: int, pack: bool, runs_dir: Path) -> tuple[list[Path], list[str]]:
    """The run dirs of bundle ``bundle`` of a sweep cut into bundles of ``size`` (:func:`bundles`), and the
    overrides its members share, read from the sweep file (so no point is ever one argument)."""
    from jetscale.sweep import load_sweep, run_id

    sweep = load_sweep(sweep_name, check_config=False)
    members = bundles({run_id(p): p for p in sweep.points()}, size, pack=pack)
    if bundle not in members:
        raise ValueError(f"sweep {sweep.name} ({sweep.source}) has no {bundle} in bundles of {size}"
                         f"{' (packed)' if pack else ''}: it has {len(members)} (bundle-000 ...)")
    return [runs_dir / rid for rid in members[bundle]], sweep.common_overrides()


def cmd_train_bundle(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    overrides = [o for o in args.overrides if o != "--"]
    if args.sweep:
        if args.run_dir or overrides or not (args.bundle and args.bundle_size and args.runs_dir):
            raise ValueError("--sweep takes --bundle, --bundle-size and --runs-dir, and no --run-dir or overrides")
        run_dirs, overrides = sweep_bundle(args.sweep, args.bundle, args.bundle_size, args.pack, Path(args.runs_dir))
    elif args.run_dir:
        run_dirs = [Path(d) for d in args.run_dir]
    else:
        raise ValueError("give the members: --sweep S --bundle NAME --bundle-size K --runs-dir D, or --run-dir ...")
    if args.accelerator and not any(o.startswith(("trainer=", "trainer.accelerator=")) for o in overrides):
        overrides = [*overrides, f"trainer.accelerator={args.accelerator}"]  # the profile's, unless the sweep's
        if args.precision and not any(o.startswith("trainer.precision=") for o in overrides):
            overrides = [*overrides, f"trainer.precision={args.precision}"]  # with it, its precision (as machine_overrides)
    variable = slot_variable(args.accelerator)
    if args.pack:
        on_devices = args.accelerator in ("gpu", "xpu") and f"trainer.accelerator={args.accelerator}" in overrides
        slots = device_slots(cpu_slots=1, variable=variable) if on_devices else [None]
        if len(slots) > 1:  # one pack per device, each its own process
            return bundle_exit(run_bundle(device_packs(run_dirs, overrides, len(slots)), slots, variable=variable))
        from jetscale.packed import train_run_dirs  # torch and Lightning: only a packed bundle needs them

        train_run_dirs(run_dirs, overrides)  # one pack here, on the CPU or the one device
        return 0
    slots = device_slots(cpu_slots=args.cpu_slots, variable=variable)
    members = [Member(d, train_command(d, overrides), [*overrides, *point_overrides(d.name)]) for d in run_dirs]
    return bundle_exit(run_bundle(members, slots, variable=variable))


def register(sub) -> None:
    p = sub.add_parser(
        "train-bundle", help="run several sweep points inside one scheduler job (one per GPU, or packed)",
        description="Run the points of a bundle side by side inside one allocation: one `jetscale train` per "
                    "GPU of CUDA_VISIBLE_DEVICES (else --cpu-slots at a time on the CPUs), or with --pack as "
                    "packed ensembles: one on the CPU or a single device, one `jetscale train-packed` per device "
                    "with --accelerator gpu|xpu and several devices. The members are bundle --bundle of --sweep "
                    "(the workflow's form), or the --run-dir's given. Each point's overrides come from its run "
                    f"dir's name (a sweep run id such as 'n_samples=64{RUN_ID_SEPARATOR}seed=0'); the sweep's "
                    "overrides (or those after the options) apply to all. "
                    "Finished points are skipped. Exit 0 when all finished, 75 when one was preempted.")
    p.add_argument("--sweep", help="the sweep (name or .yaml path, @<scale> for a scale) whose bundle to run")
    p.add_argument("--bundle", help="with --sweep: the bundle's name, e.g. bundle-003")
    p.add_argument("--bundle-size", type=int, help="with --sweep: points per bundle (workflow bundle_size)")
    p.add_argument("--runs-dir", help="with --sweep: the sweep's run dirs, e.g. results/<sweep>/runs")
    p.add_argument("--run-dir", action="append", default=[], metavar="DIR",
                   help="by hand: a member's run dir (repeat), named by its run id")
    p.add_argument("--cpu-slots", type=int, default=1,
                   help="members at a time when no GPU is visible (the workflow passes the job's threads)")
    p.add_argument("--accelerator", choices=["cpu", "gpu", "xpu"],
                   help="the machine's accelerator (a cluster profile's): members train on it, one per device "
                        "(xpu: one per Intel GPU tile, by ZE_AFFINITY_MASK); a sweep's own trainer.accelerator wins")
    p.add_argument("--precision", help="the machine's trainer.precision (a cluster profile's, e.g. bf16-mixed): added "
                                       "with --accelerator, unless the sweep sets its own trainer or precision")
    p.add_argument("--pack", action="store_true",
                   help="train the bundle as packed ensembles (jetscale.packed): one per device with --accelerator")
    p.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides common to every member")
    p.set_defaults(func=cmd_train_bundle)

