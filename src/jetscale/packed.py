"""``jetscale train-packed``: many small sweep points trained in one process as a vectorised ensemble.

A pack trains K points that share everything but ``seed`` and ``n_samples`` (``torch.func`` stacked
state under ``torch.vmap``) and writes each member's ``<run_dir>/metrics.json`` as a separate
``jetscale train`` would, plus ``packed`` (K); results agree up to float rounding. No checkpoints, no
early stopping, CPU only, no dropout, elementwise optimizers only. How and why: docs/sweeps.md#packed-small-model-runs.
"""

from __future__ import annotations

import copy
import itertools
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.func import functional_call, stack_module_state
from torch.utils._pytree import tree_map

from jetscale.identity import flatten
from jetscale.lifetime import hold_point
from jetscale.results import override_mismatch, read_metrics
from jetscale.sweep import PACK_AXES, compose_training_config, point_overrides
from jetscale.train import gradient_counts, run_metrics, step_budget, write_run

log = logging.getLogger(__name__)
MEMBER_KEYS = PACK_AXES  # the only config keys that may differ within a pack
ELEMENTWISE_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD, torch.optim.RMSprop,
                          torch.optim.Adagrad)


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


# -- the pack ----------------------------------------------------------------------------------

def build_member(member: Member) -> None:
    """Datamodule, model and batches of one point, seeded and in the order of a separate run."""
    L.seed_everything(member.cfg.seed, workers=True, verbose=False)
    member.datamodule = instantiate(member.cfg.data)
    member.module = instantiate(member.cfg.model)
    member.datamodule.prepare_data()
    member.datamodule.setup("fit")
    member.module.prepare(member.datamodule)
    member.batches = iter(member.datamodule.train_dataloader())  # the endless stream of jetscale.data.sampling


def check_batches(members: list[Member]) -> int:
    """The members' common batch size; ValueError naming the points when they differ."""
    sizes = {m.run_dir.name: m.datamodule.batch_size for m in members}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"packed runs need one batch size, got {sizes} (data.batch_size=null means full batch, "
                         "so it follows n_samples): set data.batch_size")
    return next(iter(sizes.values()))


def packed_loss(loss_fn, params: dict, buffers: dict, batches: list) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ_k objective_k, per-member losses [K]) through one vmap over the members' stacked batches.

    Every batch has the pack's batch size (the training stream never yields a short one)."""
    losses = loss_fn(params, buffers, tree_map(lambda *xs: torch.stack(xs), *batches))  # [K]
    return losses.sum(), losses.detach()


def fit_packed(members: list[Member], steps: int, log_every: int) -> None:
    """Train the members' nets together for ``steps`` steps; copy each trained slice back into its net."""
    nets = [m.module.net for m in members]
    params, buffers = stack_module_state(nets)  # {name: [K, ...]}; params are leaves that require grad
    recipe = members[0].module  # one recipe: the configs are equal but for MEMBER_KEYS
    base = copy.deepcopy(nets[0]).to("meta")

    def member_loss(p, b, batch):
        return recipe.objective(functional_call(base, (p, b), recipe.net_inputs(batch)), batch)

    loss_fn = torch.vmap(member_loss)
    optimizer = recipe.make_optimizer(list(params.values()))
    if not isinstance(optimizer, ELEMENTWISE_OPTIMIZERS):
        raise ValueError(f"a pack needs an elementwise optimizer {[o.__name__ for o in ELEMENTWISE_OPTIMIZERS]}, "
                         f"got {type(optimizer).__name__}")
    report_every = max(1, steps // 10)
    for step in range(steps):
        total, losses = packed_loss(loss_fn, params, buffers, [next(m.batches) for m in members])
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


def refuse_idle_gpus(cfg) -> None:
    """A pack trains on the CPU: in a scheduler job that was given GPUs it stops before any work (as
    :mod:`jetscale.devices` stops a single point), unless ``allow_idle_accelerators``."""
    from jetscale.devices import idle_devices_error, visible_devices

    problem = None if cfg.get("allow_idle_accelerators") else idle_devices_error("cpu", visible_devices())
    if problem:
        raise ValueError(f"a packed bundle trains on the CPU: {problem}; or train the points one per GPU "
                         "(bundle_pack: false)")


def train_members(members: list[Member], done: dict) -> None:
    """Train ``members`` as one pack; put each one's metrics into ``done``."""
    if not members:
        return
    refuse_idle_gpus(members[0].cfg)
    start = time.perf_counter()
    for member in members:
        build_member(member)
    batch_size = check_batches(members)
    cfg, net = members[0].cfg, members[0].module.net
    flops_per_step = net.train_flops_per_sample() * batch_size
    steps = step_budget(cfg, flops_per_step)
    if steps < 1:
        raise ValueError(f"a pack trains a fixed number of steps: set trainer.max_steps >= 1 or compute "
                         f"(got trainer.max_steps={cfg.trainer.max_steps})")
    log.info("packing %d runs of %s (width %s): %d steps of batch %d",
             len(members), members[0].module.name, cfg.width, steps, batch_size)
    fit_packed(members, steps, cfg.trainer.get("log_every_n_steps", 50))
    shared_s = (time.perf_counter() - start) / len(members)
    for member in members:
        result = {**gradient_counts(steps, flops_per_step, batch_size, member.cfg.n_samples),
                  "world_size": 1, "launcher": "none", "packed": len(members)}
        done[member.run_dir] = finish_member(member, result, shared_s)
