"""``jetscale train``: one point of a sweep, from a composed Hydra config to metrics.json.

Recipe: seed → datamodule → model (the task's, :mod:`jetscale.tasks`) → fit (closed-form ridge or Lightning) →
evaluate → log → write ``<run_dir>/metrics.json`` atomically (``hydra.run.dir``, set per point by the workflow).
Gradient runs checkpoint to ``<run_dir>/checkpoints/`` and resume a rerun of the same config
(:mod:`jetscale.checkpoints`; SIGTERM/SIGUSR1 → checkpoint and exit 75); one trainer per point
(:mod:`jetscale.lifetime`, exit 73). It runs as one process, local DDP or under torchrun, srun and mpiexec
(:mod:`jetscale.launch`); ``data.batch_size`` is the global batch, FLOPs count it, and only global rank 0
evaluates and writes metrics.json. Early stopping (:func:`checkpointing`): docs/sweeps.md#early-stopping.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf

from jetscale.checkpoints import (LAST, AtomicCheckpointIO, Preempted, RandomState, RecordIdentity, StopOnSignal,
                                  deadline_from_env, resumable_checkpoint)
from jetscale.data.resident import ResidentData
from jetscale.devices import device_settings, visible_devices
from jetscale.identity import RunIdentity, run_identity
from jetscale.launch import Launch, detect_launch, trainer_settings
from jetscale.lifetime import previous_attempts
from jetscale.models.ridge import solve_readout
from jetscale.paths import CONFIG_DIR
from jetscale.provenance import git_revision
from jetscale.results import write_json_atomic
from jetscale.tasks import check_task, task_of
from jetscale.throughput import throughput_metrics
from jetscale.timing import TrainTimer, device_name
from jetscale.log_noise import quiet_harmless
from jetscale.redaction import guard_output, redact_secrets

log = logging.getLogger(__name__)
SOLVERS = ("closed_form", "lightning")
BEST = "best"  # checkpoints/best.ckpt: the lowest-val_loss weights of an early-stopping run
NO_VALIDATION = {"val_loss": None, "best_step": None}
CLOSED_FORM_PRECISION = "64-true"  # the ridge solve's arithmetic: float64 design matrices (models/ridge.py)


def fit_closed_form(model, datamodule, cfg: DictConfig, run_dir: Path, loggers: list) -> dict:
    """Ridge readout on the net's fixed features (:func:`jetscale.models.ridge.solve_readout`)."""
    model.prepare(datamodule)
    x, y = datamodule.split("train")
    start = time.perf_counter()
    flops = solve_readout(model.net, x, y, cfg.ridge)
    speed = throughput_metrics(flops, time.perf_counter() - start, "cpu", CLOSED_FORM_PRECISION, 1)
    return {"flops": flops, "steps": 0, "epochs": 0, "precision": CLOSED_FORM_PRECISION, **speed}


def step_budget(cfg: DictConfig, flops_per_step: float) -> int:
    """``trainer.max_steps``, or the steps that ``cfg.compute`` FLOPs buy (at least one)."""
    if not cfg.get("compute"):
        return cfg.trainer.max_steps
    steps = max(1, int(cfg.compute // flops_per_step))
    log.info("compute budget %.3g FLOPs buys at most %d steps of %.3g FLOPs (trainer.max_steps)", cfg.compute, steps,
             flops_per_step)
    return steps


class StayStopped(EarlyStopping):
    """EarlyStopping that, resumed from a run it had already stopped, stops again at once.

    (A point killed after early stopping but before its metrics file was written would
    otherwise train on until the next validation.)"""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.wait_count >= self.patience:
            trainer.should_stop = True


def validates(cfg: DictConfig, datamodule) -> bool:
    """Whether the run stops early: ``cfg.early_stopping`` is set and the datamodule has validation data."""
    if not cfg.get("early_stopping"):
        return False
    if not getattr(datamodule, "n_val", 0):
        log.info("early_stopping is set but the data has no validation split (data.n_val=0): "
                 "training trainer.max_steps=%s steps", cfg.trainer.max_steps)
        return False
    return True


def checkpointing(cfg: DictConfig, datamodule, directory: Path) -> tuple[list, dict, ModelCheckpoint | None]:
    """The run's checkpoint and early-stopping callbacks, its Trainer options, and its best-validation
    checkpoint callback (None without early stopping; the rules: docs/sweeps.md#early-stopping)."""
    if not validates(cfg, datamodule):
        periodic = ModelCheckpoint(dirpath=directory, save_last=True, save_top_k=0, enable_version_counter=False,
                                   every_n_train_steps=cfg.checkpoint_every_n_steps)
        return [periodic], {"limit_val_batches": 0}, None
    settings = cfg.early_stopping
    stop = StayStopped(monitor="val_loss", mode="min", patience=settings.patience, min_delta=settings.min_delta,
                       check_on_train_epoch_end=False)
    # Lightning runs the other callbacks first, then the checkpoint callbacks in this order: early
    # stopping and the best checkpoint have taken in a validation before last.ckpt saves their state.
    best = ModelCheckpoint(dirpath=directory, filename=BEST, monitor="val_loss", mode="min", save_top_k=1,
                           save_on_train_epoch_end=False, enable_version_counter=False, auto_insert_metric_name=False)
    after_validation = ModelCheckpoint(dirpath=directory, filename=Path(LAST).stem, save_top_k=1,
                                       save_on_train_epoch_end=False, enable_version_counter=False)
    options = {"val_check_interval": int(settings.val_every_n_steps), "check_val_every_n_epoch": None,
               "num_sanity_val_steps": 0}
    return [stop, best, after_validation], options, best


def restore_best(model, best: ModelCheckpoint) -> dict:
    """Load the best-validation weights into ``model``; their ``val_loss`` and ``best_step``."""
    if not best.best_model_path:
        log.warning("no validation ran (trainer.max_steps < early_stopping.val_every_n_steps): "
                    "reporting the last weights")
        return dict(NO_VALIDATION)
    checkpoint = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["state_dict"])
    return {"val_loss": float(best.best_model_score), "best_step": int(checkpoint["global_step"])}


def fit_lightning(model, datamodule, cfg: DictConfig, run_dir: Path, loggers: list, launch: Launch,
                  layout: dict) -> dict:
    """Gradient training with checkpoints, under whichever launcher started this process.

    ``cfg.compute`` (FLOPs) sets max_steps if given; FLOPs count the global batch.
    Stops early (checkpoint saved, :class:`~jetscale.checkpoints.Preempted`) on SIGTERM/SIGUSR1 or past
    ``JETSCALE_DEADLINE``; with validation data and ``cfg.early_stopping``, also when ``val_loss``
    stops improving (docs/sweeps.md#early-stopping), and the model ends with the best weights.
    """
    model.prepare(datamodule)  # data-dependent setup first: the padded constituent length enters the FLOPs
    flops_per_step = model.net.train_flops_per_sample() * datamodule.batch_size
    max_steps = step_budget(cfg, flops_per_step)
    last = run_dir / "checkpoints" / LAST
    stop_on_signal = StopOnSignal(last, deadline=deadline_from_env())
    callbacks, options, best = checkpointing(cfg, datamodule, last.parent)
    resident = ResidentData(**cfg.resident_data)  # training_loader finds it: the training set on the device
    data_files = datamodule.data_files() if hasattr(datamodule, "data_files") else None
    identity, revision = training_identity(cfg, max_steps, data_files), git_revision()
    layout = {**layout, "plugins": [*layout.get("plugins", []), AtomicCheckpointIO()]}
    timer = TrainTimer()  # before stop_on_signal: its clock stops before the final checkpoint saves its totals
    trainer = instantiate(cfg.trainer, max_steps=max_steps,
                          callbacks=[*callbacks, timer, stop_on_signal, RandomState(),
                                     RecordIdentity(identity, revision), resident],
                          logger=loggers, default_root_dir=str(run_dir), **options, **layout)
    resume = resumable_checkpoint(last, identity, revision, is_rank_zero=trainer.is_global_zero)
    if resume:
        log.info("resuming from %s", resume)
    compiling = compile_net(model, cfg)
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    finally:
        uncompile_net(model)
    stop_on_signal.raise_if_stopped()
    validation = restore_best(model, best) if best is not None and trainer.is_global_zero else dict(NO_VALIDATION)
    log.info("trained %d of at most %d steps (%.3g FLOPs)%s", trainer.global_step, max_steps,
             trainer.global_step * flops_per_step,
             "; stopped early: no lower val_loss" if trainer.global_step < max_steps else "")
    speed = throughput_metrics(timer.steps * flops_per_step, timer.seconds,  # the timed steps of every attempt
                               device_name(trainer.strategy.root_device), trainer.precision, trainer.world_size,
                               cfg.float32_matmul_precision)
    return {**gradient_counts(trainer.global_step, flops_per_step, datamodule.batch_size, cfg.n_samples),
            **validation, "world_size": trainer.world_size, "launcher": launch.launcher,
            "data_on_device": resident.data_on_device, "is_global_zero": trainer.is_global_zero,
            "compiled": compiling, "precision": trainer.precision, **speed}


def compile_net(model, cfg: DictConfig) -> bool:
    """With ``compile.enabled``, compile the net's forward in place (backend and mode from ``compile``); whether it
    did. Only the net: Lightning's training step reads the trainer's step counter, so a compiled step would be
    recompiled at every step. The parameters stay the module's own, so checkpoints keep their plain keys."""
    settings = cfg.get("compile")
    if not settings or not settings.enabled:
        return False
    model.net.forward = torch.compile(model.net.forward, backend=settings.backend, mode=settings.mode)
    return True


def uncompile_net(model) -> None:
    """Undo :func:`compile_net`: evaluation runs the same weights eagerly."""
    model.net.__dict__.pop("forward", None)


def training_identity(cfg: DictConfig, max_steps: int, data_files: dict | None = None) -> RunIdentity:
    """What this run computes (:mod:`jetscale.identity`): its checkpoints carry it, and only a checkpoint
    of the same identity is resumed. ``data_files`` (a datamodule's ``data_files()``: checksums of the files
    its data come from, where a path in the config does not say what they hold) count too."""
    resolved = redact_secrets(OmegaConf.to_container(cfg, resolve=True), quiet=True)
    if data_files:
        resolved["data_files"] = data_files
    return run_identity(resolved, list(cfg.resume.ignore), list(cfg.resume.growable), max_steps)


def gradient_counts(steps: int, flops_per_step: float, batch_size: int, n_samples: int) -> dict:
    """``flops``, ``steps`` and ``epochs`` (samples seen / training-set size) of a gradient run."""
    return {"flops": steps * flops_per_step, "steps": steps, "epochs": steps * batch_size / n_samples}


def train(cfg: DictConfig, run_dir: Path, overrides: list[str] | None = None) -> dict:
    """Run one sweep point and write its metrics file; return the metrics.

    ``overrides`` (the command line's Hydra overrides) are recorded in the metrics, so the table can check
    each point against its sweep (:func:`jetscale.aggregate.sweep_metrics`)."""
    if cfg.solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {cfg.solver!r}")
    if cfg.get("compute") and cfg.solver != "lightning":
        raise ValueError(f"compute={cfg.compute} sets the steps of a gradient run; solver={cfg.solver} has none")
    fit = {"closed_form": fit_closed_form, "lightning": fit_lightning}[cfg.solver]
    if cfg.solver == "lightning":  # a launcher/config contradiction stops here, before any slow work
        launch = detect_launch()
        layout = trainer_settings(cfg.trainer.devices, cfg.trainer.num_nodes, launch)  # devices, num_nodes, plugins
        layout.update(device_settings(cfg.trainer, layout, visible_devices(),  # accelerator, strategy; idle GPUs stop
                                      allow_idle=bool(cfg.get("allow_idle_accelerators", False))))
        fit = partial(fit_lightning, launch=launch, layout=layout)
    start = time.perf_counter()
    torch.set_float32_matmul_precision(cfg.float32_matmul_precision)  # part of the identity: it changes results
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)
    check_task(datamodule, model, cfg.solver)
    loggers = [instantiate(logger_cfg, save_dir=str(run_dir)) for logger_cfg in cfg.logger.values()]
    result = fit(model, datamodule, cfg, run_dir, loggers)
    if not result.pop("is_global_zero", True):
        return {}  # DDP: rank 0 evaluates and writes the point's metrics; the other ranks are done
    metrics = run_metrics(cfg, run_dir, datamodule, model, result)
    if hasattr(datamodule, "write_artifacts"):  # e.g. the random hierarchy model's rules, beside metrics.json
        datamodule.write_artifacts(run_dir)
    earlier, earlier_s = previous_attempts(run_dir)  # killed and resumed: every attempt's time counts
    metrics.update(wall_s=earlier_s + time.perf_counter() - start, attempts=earlier + 1, overrides=overrides)
    return write_run(cfg, run_dir, metrics, loggers)


def run_metrics(cfg: DictConfig, run_dir: Path, datamodule, model, result: dict) -> dict:
    """A trained point's metrics: identity, size, ``result`` of the fit, the task's test metrics and theory
    (no ``wall_s``)."""
    task = task_of(datamodule)
    return {
        "run_id": run_dir.name,
        "task": datamodule.task,
        "model": model.name,
        "solver": cfg.solver,
        "width": cfg.width,
        "n_params": model.net.n_params,
        "n_samples": cfg.n_samples,
        "seed": cfg.seed,
        "ridge": cfg.ridge,
        "compute": cfg.get("compute"),  # the FLOP budget of an IsoFLOP point (None: steps were set directly)
        **NO_VALIDATION,  # val_loss, best_step: set by an early-stopping fit
        "compiled": False,  # whether the training step ran under torch.compile: set by a gradient fit
        "data_on_device": False,  # set by a Lightning fit whose batches were gathered on the device
        **result,
        **task.evaluate(model.net, datamodule),
        "theory_loss": task.theory_loss(datamodule, cfg.width, cfg.ridge),
        "git_revision": git_revision(),  # the code that trained the point (+dirty: with uncommitted changes)
    }


def write_run(cfg: DictConfig, run_dir: Path, metrics: dict, loggers: list) -> dict:
    """Log the final metrics, add the resolved config and write ``<run_dir>/metrics.json`` atomically."""
    for logger in loggers:
        logger.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, step=metrics["steps"])
        logger.finalize("success")
        if isinstance(logger, WandbLogger):  # one W&B run per point, also when train() is called in-process
            logger.experiment.finish()
    metrics["config"] = redact_secrets(OmegaConf.to_container(cfg, resolve=True))
    write_json_atomic(run_dir / "metrics.json", metrics)
    log.info("%s: test_loss=%.4g theory_loss=%s", run_dir.name, metrics["test_loss"], metrics["theory_loss"])
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        if train(cfg, run_dir, list(HydraConfig.get().overrides.task)):
            print(f"jetscale train: done; metrics in {run_dir / 'metrics.json'}", flush=True)
    except Preempted as stop:
        log.warning(stop.message)
        raise
    except (ValueError, FileNotFoundError) as err:  # bad input (config, data, launcher): one line, exit 2
        log.error("%s", err)
        raise SystemExit(2) from None


if __name__ == "__main__":  # Lightning restarts this file for each local DDP rank (see jetscale.cli)
    guard_output()
    quiet_harmless()
    main()
