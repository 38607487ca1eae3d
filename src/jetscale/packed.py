"""``jetscale train-packed``: many small sweep points trained in one process as a vectorised ensemble.

A pack trains K points that share everything but ``seed`` and ``n_samples`` (``torch.func`` stacked
state under ``torch.vmap``) and writes each member's ``<run_dir>/metrics.json`` as a separate
``jetscale train`` would, plus ``packed`` (K); results agree up to float rounding. It trains on the one device
``trainer.accelerator`` names (:func:`pack_device`), under ``trainer.precision`` (32-true or bf16-mixed) and, with
``compile.enabled``, a compiled loss. No checkpoints, no early stopping, no dropout, elementwise optimizers only.
How and why: docs/sweeps.md#packed-small-model-runs, docs/gpu.md.
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.func import functional_call, stack_module_state
from torch.utils._pytree import tree_map

from jetscale import devices
from jetscale.data.resident import ResidentData
from jetscale.devices import Visible, idle_devices_error
from jetscale.identity import flatten
from jetscale.lifetime import hold_point
from jetscale.results import override_mismatch, read_metrics
from jetscale.sweep import PACK_AXES, compose_training_config, point_overrides
from jetscale.throughput import throughput_metrics
from jetscale.timing import device_name
from jetscale.train import gradient_counts, run_metrics, step_budget, write_run

log = logging.getLogger(__name__)
MEMBER_KEYS = PACK_AXES  # the only config keys that may differ within a pack
ELEMENTWISE_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD, torch.optim.RMSprop,
                          torch.optim.Adagrad)
# trainer.precision values a pack trains under -> its autocast dtype (None: plain float32), and the name metrics record
PACK_PRECISIONS = {"32-true": (None, "32-true"), "32": (None, "32-true"),
                   "bf16-mixed": (torch.bfloat16, "bf16-mixed"), "bf16": (torch.bfloat16, "bf16-mixed")}


@dataclass
class Member:
    """One point of a pack: its config, run dir, and (once built) datamodule, LightningModule, batches."""

    cfg: DictConfig
    run_dir: Path
    datamodule: L.LightningDataModule | None = None
    module: L.LightningModule | None = None
    batches: Iterator | None = field(default=None, repr=False)
    overrides: list[str] | None = None  # recorded in metrics.json, as `jetscale train` records its own
    history: list = field(default_factory=list)  # (step, training loss) every log_every_n_steps
    data_on_device: bool = False  # its batches were gathered from its training set held on the pack's device


# -- configs -----------------------------------------------------------------------------------

def member_overrides(run_dirs: list[Path], overrides: list[str]) -> list[list[str]]:
    """Each run dir's Hydra overrides: the common ``overrides``, then its run id's point."""
    return [[*overrides, *point_overrides(d.name)] for d in run_dirs]


def compose_members(run_dirs: list[Path], overrides: list[str]) -> list[DictConfig]:
    """The training config of each run dir: ``configs/train.yaml`` + its :func:`member_overrides`."""
    return [compose_training_config(o, f"run dir {d.name}")
            for d, o in zip(run_dirs, member_overrides(run_dirs, overrides))]


def config_difference(a: DictConfig, b: DictConfig) -> str | None:
    """The first dotted key (other than ``MEMBER_KEYS``) whose unresolved value differs, or None."""
    flat = [flatten({k: v for k, v in OmegaConf.to_container(c, resolve=False).items() if k not in MEMBER_KEYS})
            for c in (a, b)]
    for key in sorted(flat[0].keys() | flat[1].keys()):
        if flat[0].get(key, "<absent>") != flat[1].get(key, "<absent>"):
            return key
    return None


def check_packable(cfgs: list[DictConfig], run_dirs: list[Path]) -> None:
    """Raise ValueError unless the points can share one pack (same everything but ``MEMBER_KEYS``)."""
    if len(cfgs) != len(run_dirs) or not cfgs:
        raise ValueError(f"a pack needs one config per run dir, got {len(cfgs)} configs and {len(run_dirs)} run dirs")
    if len(set(run_dirs)) != len(run_dirs):
        raise ValueError("a pack lists the same run dir twice")
    if cfgs[0].solver != "lightning":
        raise ValueError(f"a pack trains by gradient steps (solver=lightning), got solver={cfgs[0].solver}")
    if cfgs[0].get("early_stopping") and OmegaConf.select(cfgs[0], "data.n_val", default=0):
        raise ValueError(f"a pack trains a fixed number of steps and cannot stop early, but early_stopping is set "
                         f"and data.n_val={cfgs[0].data.n_val}: set data.n_val=0 (no validation) or train the "
                         "points separately (workflow bundle_pack: false)")
    for cfg, run_dir in zip(cfgs[1:], run_dirs[1:]):
        key = config_difference(cfgs[0], cfg)
        if key is not None:
            raise ValueError(
                f"packed runs may differ only in {list(MEMBER_KEYS)}, but {key} differs: "
                f"{OmegaConf.select(cfgs[0], key)!r} in {run_dirs[0].name} vs {OmegaConf.select(cfg, key)!r} "
                f"in {run_dir.name}")


# -- device, precision, compile ------------------------------------------------------------------

@dataclass(frozen=True)
class Placement:
    """Where and how a pack trains: one device, the autocast dtype (None: float32), the name of its precision in
    the metrics, and ``torch.compile``'s options for its loss (None: eager)."""

    device: torch.device
    precision: str = "32-true"
    autocast: torch.dtype | None = None
    compile: dict | None = None


CPU = Placement(torch.device("cpu"))


def pack_device(cfg: DictConfig, visible: Visible | None = None,
                environ: Mapping[str, str] = os.environ) -> torch.device:
    """The one device a pack trains on: ``trainer.accelerator`` cpu, gpu/cuda (``cuda:0``: the first GPU of
    CUDA_VISIBLE_DEVICES), xpu (``xpu:0``: the first tile of ZE_AFFINITY_MASK) or auto (CUDA, else XPU, else CPU).
    ValueError for a device this process does not see, more than one device, or a scheduler job that would leave
    its GPUs idle (:func:`refuse_idle_gpus`)."""
    visible = visible or devices.visible_devices()
    trainer = cfg.trainer
    accelerator = str(trainer.accelerator)
    if accelerator == "auto":
        accelerator = "gpu" if visible.cuda else "xpu" if visible.xpu else "cpu"
    n_devices, nodes = str(trainer.get("devices", "auto")), str(trainer.get("num_nodes", "auto"))
    if n_devices not in ("auto", "1") or nodes not in ("auto", "1"):
        raise ValueError(f"a pack trains on one device, got trainer.devices={n_devices} trainer.num_nodes={nodes}: "
                         "a packed bundle (jetscale train-bundle --pack --accelerator gpu) puts one pack on each GPU")
    if accelerator == "cpu":
        refuse_idle_gpus(cfg, visible, environ)
        return torch.device("cpu")
    cuda = ("cuda", visible.cuda, "CUDA_VISIBLE_DEVICES")
    kinds = {"gpu": cuda, "cuda": cuda, "xpu": ("xpu", visible.xpu, "ZE_AFFINITY_MASK")}
    if accelerator not in kinds:
        raise ValueError(f"a pack trains on cpu, gpu (cuda), xpu or auto, got trainer.accelerator={accelerator}")
    kind, count, variable = kinds[accelerator]
    if not count:
        raise ValueError(f"trainer.accelerator={accelerator}, but torch {torch.__version__} sees no {kind} device "
                         f"({variable}={environ.get(variable, '<unset>')})")
    return torch.device(kind, 0)


def pack_placement(cfg: DictConfig, visible: Visible | None = None,
                   environ: Mapping[str, str] = os.environ) -> Placement:
    """The pack's :class:`Placement` from ``trainer.accelerator``, ``trainer.precision`` and ``compile``;
    ValueError for a precision a pack cannot train under (16-mixed needs a gradient scaler a pack lacks)."""
    precision = str(cfg.trainer.get("precision", "32-true"))
    if precision not in PACK_PRECISIONS:
        raise ValueError(f"a pack trains under trainer.precision 32-true or bf16-mixed, got {precision}"
                         + (" (float16 needs a gradient scaler, which a pack has not: use bf16-mixed or train the "
                            "points separately, bundle_pack: false)" if precision.startswith("16") else ""))
    autocast, name = PACK_PRECISIONS[precision]
    settings = cfg.get("compile")
    options = ({"backend": settings.backend, "mode": settings.mode} if settings and settings.enabled else None)
    return Placement(pack_device(cfg, visible, environ), name, autocast, options)


def use_deterministic(setting) -> None:
    """Apply ``trainer.deterministic`` as Lightning's Trainer does, so that a pack computes with the kernels of a
    separate run (None: torch's defaults; "warn": deterministic kernels, warnings for the others)."""
    if setting is None:
        return
    torch.use_deterministic_algorithms(bool(setting), warn_only=setting == "warn")
    if setting:
        torch.backends.cudnn.benchmark = False
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"  # what cuBLAS needs for reproducible results


# -- the pack ----------------------------------------------------------------------------------

def build_member(member: Member, device: torch.device = CPU.device) -> None:
    """Datamodule, model and batches of one point, seeded and in the order of a separate run; the batches are
    gathered on ``device`` from the training set held there where ``resident_data`` sends it (as a separate
    run's, :mod:`jetscale.data.resident`)."""
    L.seed_everything(member.cfg.seed, workers=True, verbose=False)
    member.datamodule = instantiate(member.cfg.data)
    member.module = instantiate(member.cfg.model)
    member.datamodule.prepare_data()
    member.datamodule.setup("fit")
    member.module.prepare(member.datamodule)
    loader = member.datamodule.train_dataloader()  # the endless stream of jetscale.data.sampling
    setting = ResidentData(**member.cfg.resident_data)
    resident = setting.batches(loader, device)
    member.batches = iter(loader if resident is None else resident)
    member.data_on_device = setting.data_on_device


def check_batches(members: list[Member]) -> int:
    """The members' common batch size; ValueError naming the points when they differ."""
    sizes = {m.run_dir.name: m.datamodule.batch_size for m in members}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"packed runs need one batch size, got {sizes} (data.batch_size=null means full batch, "
                         "so it follows n_samples): set data.batch_size")
    return next(iter(sizes.values()))


def on_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``x`` on ``device``: as it is if already there; on CUDA through pinned memory, without blocking."""
    if x.device == device:
        return x
    if device.type == "cuda":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


def stacked_batches(members: list[Member], device: torch.device) -> Iterator:
    """Each step's batch of the pack: the members' next batches stacked along a new axis [K, B, ...], on ``device``.

    The one place a pack's training data enter (a seam: a member's batches may already be on the device, e.g. its
    training set held there, and are then stacked there). Every batch has the pack's batch size (the training
    stream never yields a short one)."""
    while True:
        batch = tree_map(lambda *xs: torch.stack(xs), *[next(m.batches) for m in members])
        yield tree_map(lambda x: on_device(x, device), batch)


def packed_loss(loss_fn, params: dict, buffers: dict, batch, placement: Placement) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ_k objective_k, per-member losses [K]) through one vmap over the stacked ``batch``, under the
    placement's autocast (as Lightning's bf16-mixed: parameters stay float32)."""
    autocast = (torch.autocast(placement.device.type, dtype=placement.autocast) if placement.autocast is not None
                else nullcontext())
    with autocast:
        losses = loss_fn(params, buffers, batch)  # [K]
    return losses.sum(), losses.detach()


def fit_packed(members: list[Member], steps: int, log_every: int, placement: Placement = CPU) -> None:
    """Train the members' nets together for ``steps`` steps on ``placement.device``; copy each trained slice back
    into its net (which stays on the CPU, where its task evaluates it)."""
    nets = [m.module.net for m in members]
    params, buffers = stack_module_state(nets)  # {name: [K, ...]}
    params = {name: p.detach().to(placement.device).requires_grad_() for name, p in params.items()}  # leaves
    buffers = {name: b.to(placement.device) for name, b in buffers.items()}
    recipe = members[0].module  # one recipe: the configs are equal but for MEMBER_KEYS
    base = copy.deepcopy(nets[0]).to("meta")

    def member_loss(p, b, batch):
        return recipe.objective(functional_call(base, (p, b), recipe.net_inputs(batch)), batch)

    loss_fn = torch.vmap(member_loss)
    if placement.compile is not None:
        loss_fn = torch.compile(loss_fn, **placement.compile)
    optimizer = recipe.make_optimizer(list(params.values()))
    if not isinstance(optimizer, ELEMENTWISE_OPTIMIZERS):
        raise ValueError(f"a pack needs an elementwise optimizer {[o.__name__ for o in ELEMENTWISE_OPTIMIZERS]}, "
                         f"got {type(optimizer).__name__}")
    report_every = max(1, steps // 10)
    batches = stacked_batches(members, placement.device)
    for step in range(steps):
        total, losses = packed_loss(loss_fn, params, buffers, next(batches), placement)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        if (step + 1) % log_every == 0:
            for member, loss in zip(members, losses.tolist()):
                member.history.append((step, loss))
        if (step + 1) % report_every == 0 or step + 1 == steps:
            log.info("pack of %d: step %d/%d, train loss mean %.4g, max %.4g",
                     len(members), step + 1, steps, float(losses.mean()), float(losses.max()))
    stacked = {**params, **buffers}
    with torch.no_grad():
        for k, net in enumerate(nets):
            for name, tensor in itertools.chain(net.named_parameters(), net.named_buffers()):
                tensor.copy_(stacked[name][k])


def finish_member(member: Member, result: dict, shared_s: float) -> dict:
    """Evaluate one trained member and write its metrics file (and loggers) as a separate run would."""
    start = time.perf_counter()
    cfg, run_dir = member.cfg, member.run_dir
    loggers = [instantiate(logger_cfg, save_dir=str(run_dir)) for logger_cfg in cfg.logger.values()]
    for logger in loggers:
        for step, loss in member.history:
            logger.log_metrics({"train_loss": loss}, step=step)
    metrics = run_metrics(cfg, run_dir, member.datamodule, member.module, result)
    metrics.update(wall_s=shared_s + time.perf_counter() - start, attempts=1, overrides=member.overrides)
    write_run(cfg, run_dir, metrics, loggers)
    for logger in loggers:
        finish = getattr(logger.experiment, "finish", None)
        if callable(finish):  # wandb: close this member's run, else the next member's logger would reuse it
            finish()
    return metrics


def train_packed(cfgs: list[DictConfig], run_dirs: list[Path], overrides: list[list[str]] | None = None) -> list[dict]:
    """Train the points (``cfgs[k]`` into ``run_dirs[k]``, ``overrides[k]`` recorded) as one pack; return every
    point's metrics.

    Points whose ``metrics.json`` exists (of the same overrides) are not retrained: their metrics are read
    back.  The pack holds each member's run-dir lock (:func:`jetscale.lifetime.hold_point`) while it trains.
    """
    run_dirs = [Path(d) for d in run_dirs]
    check_packable(cfgs, run_dirs)
    overrides = overrides or [None] * len(run_dirs)
    done = {d: finished for d, o in zip(run_dirs, overrides) if (finished := finished_metrics(d, o)) is not None}
    members = [Member(cfg, d, overrides=o) for cfg, d, o in zip(cfgs, run_dirs, overrides) if d not in done]
    if done:
        log.info("skipping %d finished points: %s", len(done), ", ".join(d.name for d in done))
    with ExitStack() as locks:
        for member in members:
            locks.enter_context(hold_point(member.run_dir))
        train_members(members, done)
    return [done[d] for d in run_dirs]


def train_run_dirs(run_dirs: list[Path], overrides: list[str]) -> list[dict]:
    """``jetscale train-packed``: the points named by their run dirs (each dir's name gives the point's own
    overrides, ``overrides`` apply to all) as one pack; print and return every point's metrics."""
    run_dirs = [Path(d) for d in run_dirs]
    results = train_packed(compose_members(run_dirs, overrides), run_dirs, member_overrides(run_dirs, overrides))
    for metrics in results:
        print(f"{metrics['run_id']}: test_loss={metrics['test_loss']:.4g}")
    return results


def finished_metrics(run_dir: Path, overrides: list[str] | None) -> dict | None:
    """The metrics of a finished point trained with ``overrides`` (None: not finished, or of other overrides)."""
    path = run_dir / "metrics.json"
    if not path.exists():
        return None
    metrics = read_metrics(path)
    if overrides is not None and (mismatch := override_mismatch(metrics, overrides)):
        log.info("%s: its metrics.json is of other overrides (%s): training it again", run_dir.name, mismatch)
        return None
    return metrics


def refuse_idle_gpus(cfg, visible: Visible | None = None, environ: Mapping[str, str] = os.environ) -> None:
    """A pack with ``trainer.accelerator=cpu`` in a scheduler job that was given GPUs stops before any work (as
    :mod:`jetscale.devices` stops a single point), unless ``allow_idle_accelerators``."""
    problem = (None if cfg.get("allow_idle_accelerators")
               else idle_devices_error("cpu", visible or devices.visible_devices(), environ))
    if problem:
        raise ValueError(f"a packed bundle trains on the CPU: {problem}; or train the points one per GPU "
                         "(bundle_pack: false)")


def train_members(members: list[Member], done: dict) -> None:
    """Train ``members`` as one pack; put each one's metrics into ``done``."""
    if not members:
        return
    cfg = members[0].cfg
    placement = pack_placement(cfg)
    use_deterministic(cfg.trainer.get("deterministic"))
    start = time.perf_counter()
    torch.set_float32_matmul_precision(cfg.float32_matmul_precision)  # as a separate run: part of the identity
    for member in members:
        build_member(member, placement.device)
    batch_size = check_batches(members)
    net = members[0].module.net
    flops_per_step = net.train_flops_per_sample() * batch_size
    steps = step_budget(cfg, flops_per_step)
    if steps < 1:
        raise ValueError(f"a pack trains a fixed number of steps: set trainer.max_steps >= 1 or compute "
                         f"(got trainer.max_steps={cfg.trainer.max_steps})")
    log.info("packing %d runs of %s (width %s): %d steps of batch %d on %s (%s%s)", len(members),
             members[0].module.name, cfg.width, steps, batch_size, placement.device, placement.precision,
             ", compiled" if placement.compile else "")
    fit_start = time.perf_counter()
    fit_packed(members, steps, cfg.trainer.get("log_every_n_steps", 50), placement)
    train_s = time.perf_counter() - fit_start  # the whole pack's, ending with the copy back to the CPU (a sync)
    shared_s = (time.perf_counter() - start) / len(members)
    # Each member records its share of the pack's training time (as of wall_s): its FLOP/s and mfu are the pack's.
    speed = throughput_metrics(steps * flops_per_step, train_s / len(members), device_name(placement.device),
                               placement.precision, 1, cfg.float32_matmul_precision)
    for member in members:
        result = {**gradient_counts(steps, flops_per_step, batch_size, member.cfg.n_samples),
                  "world_size": 1, "launcher": "none", "packed": len(members), "precision": placement.precision,
                  "compiled": placement.compile is not None, "data_on_device": member.data_on_device, **speed}
        done[member.run_dir] = finish_member(member, result, shared_s)
