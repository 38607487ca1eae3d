"""The task interface: what ``jetscale train`` needs from a data source and a model family.

A *task* is ``configs/task/<name>.yaml``: a global-package Hydra config whose defaults pick a
``data`` config (the data source: a LightningDataModule), a ``model`` config (the model family: a
LightningModule around a plain ``nn.Module``), and the solver; the loss is the model's objective
and the metrics are the datamodule's :meth:`evaluate`.  ``jetscale train task=<name>`` (or a
sweep's ``task:`` key) selects it; ``model=`` / ``data=`` still swap either part.  Tasks:

=========  =====================================================================================
toy        Gaussian data with a power-law covariance, random-feature ridge (closed-form theory)
jets       top-vs-QCD jet tagging on shards (PFN, Particle Transformer, EFP linear/MLP), BCE
rhm        random hierarchy model (Cagnetta et al. 2023): root class from leaves, cross-entropy
rambo      generative flow matching of RAMBO n-body phase space, distance on pair masses
shower     parton-shower depth snapshots: thrust regression from e+e- EFPs at branching k
=========  =====================================================================================

Adding a task touches no workflow rule: write the datamodule, the model, their configs and the
task config; a sweep with ``task: <name>`` then runs, aggregates, fits and plots like the others.
The contracts (checked by :func:`check_task` before any training, so a missing piece is an error
naming it rather than a crash after the run):

**Data** (``TASK_DATA``): ``task`` (name, into metrics.json), ``batch_size`` (global),
``n_val`` (0: no validation split, no early stopping), ``train_dataloader()`` (use
:func:`jetscale.data.sampling.training_loader`, the resumable, DDP-sharded stream),
``val_dataloader()`` when ``n_val`` > 0, ``evaluate(net) -> dict`` holding ``test_loss`` (the
scaling-law loss: the training objective on the test split) and other ``test_*`` floats,
``theory_loss(width, ridge) -> float | None``.  Optional: ``split(name) -> (x, y)`` numpy arrays
(``solver=closed_form``) and ``write_artifacts(run_dir)`` (files beside metrics.json, e.g. the
random hierarchy model's rules).

**Model** (``TASK_MODEL``): ``name``, ``net`` (a plain module with ``n_params`` and an analytic
``train_flops_per_sample()``), ``prepare(datamodule)`` (untrained, data-dependent setup),
``net_inputs(batch)``, ``objective(output, batch)``, ``make_optimizer(params)``, and a
``validation_step`` that logs ``val_loss``.  A net solved in closed form has ``readout`` (the
trained vector) and ``fixed_features(x)`` / ``readout_flops(n_samples)``
(:func:`jetscale.models.ridge.solve_readout`).
"""

from __future__ import annotations

TASK_DATA = ("task", "batch_size", "n_val", "train_dataloader", "evaluate", "theory_loss")
TASK_MODEL = ("name", "net", "prepare", "net_inputs", "objective", "make_optimizer")
NET = ("n_params", "train_flops_per_sample")
CLOSED_FORM_NET = ("readout", "fixed_features", "readout_flops")


def missing(obj, names) -> list[str]:
    return [name for name in names if not hasattr(obj, name)]


def overrides(obj, hook: str) -> bool:
    """Whether ``obj`` defines Lightning hook ``hook`` itself (the base classes only have stubs)."""
    import lightning as L

    base = L.LightningDataModule if isinstance(obj, L.LightningDataModule) else L.LightningModule
    return getattr(type(obj), hook, None) is not getattr(base, hook, None)


def check_task(datamodule, model, solver: str) -> None:
    """Raise ``ValueError`` naming every attribute the task's data or model lacks for ``solver``."""
    problems = []
    for role, obj, names in (("data", datamodule, TASK_DATA), ("model", model, TASK_MODEL)):
        lacking = missing(obj, names)
        if lacking:
            problems.append(f"{role} {type(obj).__name__} lacks {', '.join(lacking)}")
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
