"""``jetscale train``: one point of a sweep, from a composed Hydra config to metrics.json.

Recipe: seed → datamodule → model → fit (closed-form ridge or Lightning) →
evaluate → log → write ``<run_dir>/metrics.json`` atomically.  The run
directory is Hydra's ``hydra.run.dir``; the workflow sets it per point.
Lightning checkpoints go to ``<run_dir>/checkpoints/`` (never a workflow
output), and a rerun of the same point resumes from ``last.ckpt``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from jetscale.models.ridge import solve_readout
from jetscale.paths import CONFIG_DIR
from jetscale.results import write_json_atomic

log = logging.getLogger(__name__)
SOLVERS = ("closed_form", "lightning")


def fit_closed_form(model, datamodule, cfg: DictConfig, run_dir: Path, loggers: list) -> dict:
    if not hasattr(datamodule, "split"):
        raise ValueError(f"solver=closed_form solves the toy model's ridge readout; task {datamodule.task!r} "
                         "needs solver=lightning")
    x, y = datamodule.split("train")
    return {"flops": solve_readout(model.net, x, y, cfg.ridge), "steps": 0}


def fit_lightning(model, datamodule, cfg: DictConfig, run_dir: Path, loggers: list) -> dict:
    """Gradient training with checkpoints; ``cfg.compute`` (FLOPs) sets max_steps if given."""
    flops_per_step = model.net.train_flops_per_sample() * datamodule.batch_size
    max_steps = cfg.trainer.max_steps
    if cfg.get("compute"):
        max_steps = max(1, int(cfg.compute // flops_per_step))
        log.info("compute budget %.3g FLOPs -> %d steps", cfg.compute, max_steps)
    checkpoints = ModelCheckpoint(
        dirpath=run_dir / "checkpoints", save_last=True, save_top_k=0,
        every_n_train_steps=cfg.checkpoint_every_n_steps,
    )
    trainer = instantiate(cfg.trainer, max_steps=max_steps, callbacks=[checkpoints], logger=loggers,
                          default_root_dir=str(run_dir))
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.exists():
        log.info("resuming from %s", last)
    trainer.fit(model, datamodule=datamodule, ckpt_path=str(last) if last.exists() else None)
    return {"flops": trainer.global_step * flops_per_step, "steps": trainer.global_step}


def train(cfg: DictConfig, run_dir: Path) -> dict:
    """Run one sweep point and write its metrics file; return the metrics."""
    if cfg.solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {cfg.solver!r}")
    if cfg.get("compute") and cfg.solver != "lightning":
        raise ValueError(f"compute={cfg.compute} sets the steps of a gradient run; solver={cfg.solver} has none")
    start = time.perf_counter()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)
    fit = {"closed_form": fit_closed_form, "lightning": fit_lightning}[cfg.solver]
    loggers = [instantiate(logger_cfg, save_dir=str(run_dir)) for logger_cfg in cfg.logger.values()]
    result = fit(model, datamodule, cfg, run_dir, loggers)
    metrics = {
        "run_id": run_dir.name,
        "task": datamodule.task,
        "model": model.name,
        "solver": cfg.solver,
        "width": cfg.width,
        "n_params": model.net.n_params,
        "n_samples": cfg.n_samples,
        "seed": cfg.seed,
        "ridge": cfg.ridge,
        **result,
        **datamodule.evaluate(model.net),
        "theory_loss": datamodule.theory_loss(cfg.width, cfg.ridge),
    }
    metrics["wall_s"] = time.perf_counter() - start
    for logger in loggers:
        logger.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, step=result["steps"])
        logger.finalize("success")
    metrics["config"] = OmegaConf.to_container(cfg, resolve=True)
    write_json_atomic(run_dir / "metrics.json", metrics)
    log.info("%s: test_loss=%.4g theory_loss=%.4g", run_dir.name, metrics["test_loss"], metrics["theory_loss"])
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    train(cfg, Path(HydraConfig.get().runtime.output_dir))
