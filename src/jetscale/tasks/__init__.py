"""Tasks: what ``jetscale train`` evaluates, and the contract a task's data and model meet (docs/tasks.md).

A task is ``configs/task/<name>.yaml`` (data, model, solver) and the module ``jetscale.tasks.<name>``
(:class:`~jetscale.tasks.base.Task`), registered in ``TASKS``; the datamodule's ``task`` names it (:func:`task_of`).
A variant ``configs/task/<task>_<variant>.yaml`` starts from ``<task>`` and changes settings; it evaluates as
that task (toy_sgd: the toy by Lightning Adam; jets_efp_linear, jets_efp_mlp: EFP taggers on EFP caches):

=========  =====================================================================================
toy        Gaussian data with a power-law covariance, random-feature ridge (closed-form theory)
jets       top-vs-QCD jet tagging on shards (PFN, Particle Transformer, EFP linear/MLP), BCE
rhm        random hierarchy model (Cagnetta et al. 2023): root class from leaves, cross-entropy
rambo      generative flow matching of RAMBO n-body phase space, distance on pair masses
shower     parton-shower depth snapshots: thrust regression from e+e- EFPs at branching k
=========  =====================================================================================

:func:`check_task` checks before training that **data** has ``TASK_DATA``: ``task``, ``batch_size`` (global),
``n_val`` (> 0: validation, docs/sweeps.md#early-stopping), ``train_dataloader()``, ``val_dataloader()`` when
``n_val`` > 0; optional ``split(name) -> (x, y)`` (closed form), ``write_artifacts(run_dir)``. The **model** has
``TASK_MODEL``: ``name``, ``net`` (``n_params``, ``train_flops_per_sample()``), ``prepare(datamodule)``,
``net_inputs(batch)``, ``objective(output, batch)``, ``make_optimizer(params)``, a ``validation_step`` logging
``val_loss``; closed-form nets also ``readout``, ``fixed_features(x)``, ``readout_flops(n_samples)``.
"""

from __future__ import annotations

from jetscale.tasks import jets, rambo, rhm, shower, toy
from jetscale.tasks.base import Task

TASKS: dict[str, Task] = {"toy": toy, "jets": jets, "rhm": rhm, "rambo": rambo, "shower": shower}
TASK_DATA = ("task", "batch_size", "n_val", "train_dataloader")
TASK_MODEL = ("name", "net", "prepare", "net_inputs", "objective", "make_optimizer")
NET = ("n_params", "train_flops_per_sample")
CLOSED_FORM_NET = ("readout", "fixed_features", "readout_flops")


def unknown_task(name) -> str | None:
    """Why ``name`` is no task (naming the known ones), or None for a registered task."""
    if name in TASKS:
        return None
    return f"unknown task {name!r} (tasks: {', '.join(sorted(TASKS))}; register one in jetscale.tasks.TASKS)"


def task_of(datamodule) -> Task:
    """The task named by ``datamodule.task``; ``ValueError`` naming the known ones otherwise."""
    name = getattr(datamodule, "task", None)
    problem = unknown_task(name)
    if problem:
        raise ValueError(f"data {type(datamodule).__name__}: {problem}")
    return TASKS[name]


def missing(obj, names) -> list[str]:
    return [name for name in names if not hasattr(obj, name)]


def overrides(obj, hook: str) -> bool:
    """Whether ``obj`` defines Lightning hook ``hook`` itself (the base classes only have stubs)."""
    import lightning as L

    base = L.LightningDataModule if isinstance(obj, L.LightningDataModule) else L.LightningModule
    return getattr(type(obj), hook, None) is not getattr(base, hook, None)


def check_task(datamodule, model, solver: str) -> None:
    """Raise ``ValueError`` naming every attribute the task's data or model lacks for ``solver``, and an
    unknown task."""
    problems = []
    for role, obj, names in (("data", datamodule, TASK_DATA), ("model", model, TASK_MODEL)):
        lacking = missing(obj, names)
        if lacking:
            problems.append(f"{role} {type(obj).__name__} lacks {', '.join(lacking)}")
    if hasattr(datamodule, "task") and unknown_task(datamodule.task):
        problems.append(f"data {type(datamodule).__name__}: {unknown_task(datamodule.task)}")
    net = getattr(model, "net", None)
    if net is not None:
        lacking = missing(net, NET + (CLOSED_FORM_NET if solver == "closed_form" else ()))
        if lacking:
            problems.append(f"net {type(net).__name__} lacks {', '.join(lacking)}"
                            + (" (needed by solver=closed_form)" if solver == "closed_form" else ""))
    if solver == "lightning" and getattr(datamodule, "n_val", 0):  # early stopping validates: both sides must
        if not overrides(datamodule, "val_dataloader"):
            problems.append(f"data {type(datamodule).__name__} lacks val_dataloader (needed by data.n_val > 0)")
        if not overrides(model, "validation_step"):
            problems.append(f"model {type(model).__name__} lacks validation_step logging val_loss "
                            "(needed by data.n_val > 0)")
    if solver == "closed_form" and not hasattr(datamodule, "split"):
        problems.append(f"data {type(datamodule).__name__} lacks split (needed by solver=closed_form; "
                        "use solver=lightning)")
    if problems:
        raise ValueError("the task does not fit jetscale.tasks' contract: " + "; ".join(problems))
