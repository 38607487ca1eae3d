"""``jetscale train``: one point of a sweep, from a composed Hydra config to metrics.json.

Recipe: seed → datamodule → model → fit (closed-form ridge or Lightning) →
evaluate → log → write ``<run_dir>/metrics.json`` atomically.  The run
directory is Hydra's ``hydra.run.dir``; the workflow sets it per point.
Lightning checkpoints go to ``<run_dir>/checkpoints/`` (never a workflow
output), and a rerun of the same point resumes from ``last.ckpt``
(:mod:`jetscale.checkpoints`: corrupt files set aside, SIGTERM/SIGUSR1 →
checkpoint and exit 75).  The same command runs as one process, as local DDP
(``trainer.devices=2 trainer.strategy=ddp``) or under torchrun, srun and
mpiexec (:mod:`jetscale.launch`); only global rank 0 evaluates and writes
metrics.json.  ``data.batch_size`` is the global batch; FLOPs count it.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf

from jetscale.checkpoints import LAST, Preempted, RandomState, StopOnSignal, deadline_from_env, resumable_checkpoint
from jetscale.launch import Launch, detect_launch, trainer_settings
from jetscale.models.ridge import solve_readout
from jetscale.paths import CONFIG_DIR
from jetscale.results import write_json_atomic
from jetscale.redaction import redact_secrets

log = logging.getLogger(__name__)
SOLVERS = ("closed_form", "lightning")


def fit_closed_form(model, datamodule, cfg: DictConfig, run_dir: Path, loggers: list) -> dict:
    if not hasattr(datamodule, "split"):
        raise ValueError(f"solver=closed_form solves the toy model's ridge readout; task {datamodule.task!r} "
                         "needs solver=lightning")
    x, y = datamodule.split("train")
    return {"flops": solve_readout(model.net, x, y, cfg.ridge), "steps": 0, "epochs": 0}


def step_budget(cfg: DictConfig, flops_per_step: float) -> int:
    """``trainer.max_steps``, or the steps that ``cfg.compute`` FLOPs buy (at least one)."""
    if not cfg.get("compute"):
        return cfg.trainer.max_steps
    steps = max(1, int(cfg.compute // flops_per_step))
    log.info("compute budget %.3g FLOPs -> %d steps of %.3g FLOPs", cfg.compute, steps, flops_per_step)
    return steps


def fit_lightning(model, datamodule, cfg: DictConfig, run_dir: Path, loggers: list, launch: Launch,
                  layout: dict) -> dict:
    """Gradient training with checkpoints, under whichever launcher started this process.

    ``cfg.compute`` (FLOPs) sets max_steps if given; FLOPs count the global batch.
    Stops early (checkpoint saved, :class:`~jetscale.checkpoints.Preempted`) on SIGTERM/SIGUSR1 or past
    ``JETSCALE_DEADLINE``.
    """
    flops_per_step = model.net.train_flops_per_sample() * datamodule.batch_size
    max_steps = step_budget(cfg, flops_per_step)
    last = run_dir / "checkpoints" / LAST
    periodic = ModelCheckpoint(dirpath=last.parent, save_last=True, save_top_k=0, enable_version_counter=False,
                               every_n_train_steps=cfg.checkpoint_every_n_steps)
    stop_on_signal = StopOnSignal(last, deadline=deadline_from_env())
    trainer = instantiate(cfg.trainer, max_steps=max_steps, callbacks=[periodic, stop_on_signal, RandomState()], logger=loggers,
                          default_root_dir=str(run_dir), **layout)
    resume = resumable_checkpoint(last, is_rank_zero=trainer.is_global_zero)
    if resume:
        log.info("resuming from %s", resume)
    trainer.fit(model, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    stop_on_signal.raise_if_stopped()
    return {**gradient_counts(trainer.global_step, flops_per_step, datamodule.batch_size, cfg.n_samples),
            "world_size": trainer.world_size, "launcher": launch.launcher, "is_global_zero": trainer.is_global_zero}


def gradient_counts(steps: int, flops_per_step: float, batch_size: int, n_samples: int) -> dict:
    """``flops``, ``steps`` and ``epochs`` (samples seen / training-set size) of a gradient run."""
    return {"flops": steps * flops_per_step, "steps": steps, "epochs": steps * batch_size / n_samples}


def train(cfg: DictConfig, run_dir: Path) -> dict:
    """Run one sweep point and write its metrics file; return the metrics."""
    if cfg.solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {cfg.solver!r}")
    if cfg.get("compute") and cfg.solver != "lightning":
        raise ValueError(f"compute={cfg.compute} sets the steps of a gradient run; solver={cfg.solver} has none")
    fit = {"closed_form": fit_closed_form, "lightning": fit_lightning}[cfg.solver]
    if cfg.solver == "lightning":  # a launcher/config contradiction stops here, before any slow work
        launch = detect_launch()
        layout = trainer_settings(cfg.trainer.devices, cfg.trainer.num_nodes, launch)  # devices, num_nodes, plugins
        fit = partial(fit_lightning, launch=launch, layout=layout)
    start = time.perf_counter()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)
    loggers = [instantiate(logger_cfg, save_dir=str(run_dir)) for logger_cfg in cfg.logger.values()]
    result = fit(model, datamodule, cfg, run_dir, loggers)
    if not result.pop("is_global_zero", True):
        return {}  # DDP: rank 0 evaluates and writes the point's metrics; the other ranks are done
    metrics = run_metrics(cfg, run_dir, datamodule, model, result)
    metrics["wall_s"] = time.perf_counter() - start
    return write_run(cfg, run_dir, metrics, loggers)


def run_metrics(cfg: DictConfig, run_dir: Path, datamodule, model, result: dict) -> dict:
    """A trained point's metrics: identity, size, ``result`` of the fit, test metrics, theory (no ``wall_s``)."""
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
        **result,
        **datamodule.evaluate(model.net),
        "theory_loss": datamodule.theory_loss(cfg.width, cfg.ridge),
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
    try:
        train(cfg, Path(HydraConfig.get().runtime.output_dir))
    except Preempted as stop:
        log.warning(stop.message)
        raise
    except (ValueError, FileNotFoundError) as err:  # bad input (config, data, launcher): one line, exit 2
        log.error("%s", err)
        raise SystemExit(2) from None


if __name__ == "__main__":  # Lightning restarts this file for each local DDP rank (see jetscale.cli)
    main()
