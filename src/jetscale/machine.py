"""The machine a sweep runs on, as its Snakemake profile describes it, and what that means for the sweep.

A cluster profile's ``workflow.yaml`` (merged into the workflow config) says how a gradient point runs there:

=================  ==============================================================================
``accelerator``    ``trainer.accelerator`` of every gradient point (``gpu`` on Perlmutter and Polaris,
                   ``xpu`` on Aurora); a sweep that sets ``trainer.accelerator`` or picks ``trainer`` wins
``precision``      ``trainer.precision`` of the gradient points that take the machine's accelerator
                   (``bf16-mixed`` on the GPU profiles), unless the sweep sets ``trainer.precision`` or picks
                   ``trainer``; null: the trainer config's (``32-true`` on the CPU)
``ranks_per_node`` processes per node of one point under the profile's ``mpi`` launcher (1: none)
``facility``       PBS profiles: ``profiles/<facility>/facility.yaml``, whose ``ranks_per_node`` is the one
                   the job script launches (``ranks_per_node`` then stays unset)
=================  ==============================================================================

:func:`check_sweep` refuses, before any job exists, a sweep whose global batch the ranks of a point do not
divide (the data loader would raise after the job started, and ``retries`` would resubmit it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jetscale.sweep import Sweep, SweepError


@dataclass(frozen=True)
class Machine:
    name: str = "local"
    accelerator: str | None = None
    ranks_per_node: int = 1
    precision: str | None = None  # trainer.precision of its gradient points (with its accelerator)
    facility: object = field(default=None, compare=False)  # jetscale.cluster.pbs.Facility of a PBS profile


def machine_of(config: dict) -> Machine:
    """The machine of a workflow config (``accelerator``, ``ranks_per_node``, ``facility``, ``precision``)."""
    facility = config.get("facility")
    ranks = config.get("ranks_per_node")
    if facility:
        from jetscale.cluster.pbs import load_facility

        layout = load_facility(facility)
        if ranks not in (None, layout.ranks_per_node):
            raise SweepError(f"workflow config: ranks_per_node={ranks} contradicts facility {facility} "
                             f"({layout.source}: ranks_per_node {layout.ranks_per_node}, what its job script "
                             "launches); leave ranks_per_node unset")
        return Machine(layout.name, config.get("accelerator"), layout.ranks_per_node, config.get("precision"),
                       layout)
    return Machine("this profile", config.get("accelerator"), int(ranks or 1), config.get("precision"))


def queue_limits(machine: Machine) -> dict[str, int]:
    """Per-user job limits of a PBS machine's queues (``max_queued``), by the Snakemake resource that counts a
    job in that queue (``pbs_queue_<name>``); the workflow declares them as global resources, so Snakemake never
    has more jobs in a queue than it takes, whatever ``--jobs`` says."""
    if machine.facility is None:
        return {}
    return {queue_resource(q.name): q.max_queued for q in machine.facility.queues.values() if q.max_queued}


def queue_resource(queue: str) -> str:
    return "pbs_queue_" + re.sub(r"\W", "_", queue)


def training_queue(machine: Machine, sweep: Sweep) -> str | None:
    """The PBS queue of a sweep's training jobs: its ``resources.queue``, else the facility's default."""
    if machine.facility is None:
        return None
    return str(sweep.resources.get("queue", machine.facility.default_queue))


def sweep_chooses(sweep: Sweep, key: str) -> bool:
    """Whether the sweep sets ``key`` (``trainer.accelerator``) itself or picks the ``trainer`` group."""
    return any(name == "trainer" or name.startswith(key) for name in sweep.overrides)


def sweep_chooses_accelerator(sweep: Sweep) -> bool:
    return sweep_chooses(sweep, "trainer.accelerator")


def machine_overrides(machine: Machine, sweep: Sweep, solver: str) -> list[str]:
    """The Hydra overrides the machine adds to every point of ``sweep``: its accelerator, for gradient points
    of a sweep that does not choose one (closed-form points never touch a device), and with it its precision
    unless the sweep sets ``trainer.precision`` (a sweep that keeps its own accelerator keeps its precision)."""
    if machine.accelerator is None or solver != "lightning" or sweep_chooses_accelerator(sweep):
        return []
    precision = [] if machine.precision is None or sweep_chooses(sweep, "trainer.precision") else \
        [f"trainer.precision={machine.precision}"]
    return [f"trainer.accelerator={machine.accelerator}", *precision]


def ranks_per_point(machine: Machine, sweep: Sweep) -> int:
    """Processes of one gradient point: the machine's ranks per node times the sweep's ``resources.nodes``."""
    return machine.ranks_per_node * int(sweep.resources.get("nodes", 1))


def global_batches(sweep: Sweep, cfg) -> dict[int, int]:
    """The global batch of each of the sweep's training-set sizes: ``data.batch_size``, or the whole training
    set (``data.n_train``) where it is null (full batch)."""
    from omegaconf import OmegaConf

    batches = {}
    for n_samples in sweep.axes.get("n_samples", [cfg.n_samples]):
        point = cfg.copy()
        OmegaConf.update(point, "n_samples", n_samples)
        batch = point.data.get("batch_size")
        batches[n_samples] = int(batch if batch is not None else point.data.get("n_train", n_samples))
    return batches


def check_sweep(sweep: Sweep, cfg, machine: Machine, bundled: bool) -> None:
    """SweepError when the ranks of one point on ``machine`` do not divide the sweep's global batch.

    ``cfg``: a composed point of the sweep (its largest). Bundled points (``bundle_size`` > 1) train one process
    per device and are not checked."""
    if bundled or cfg.get("solver") != "lightning":
        return
    ranks = ranks_per_point(machine, sweep)
    if ranks <= 1:
        return
    wrong = {n: batch for n, batch in global_batches(sweep, cfg).items() if batch % ranks}
    if not wrong:
        return
    nodes = int(sweep.resources.get("nodes", 1))
    layout = f"{machine.ranks_per_node} ranks per node x {nodes} node{'s' * (nodes > 1)}"
    batch = next(iter(wrong.values()))
    if cfg.data.get("batch_size") is not None:
        what = f"the global batch data.batch_size={batch}"
        fits = sorted({batch - batch % ranks, batch + ranks - batch % ranks} - {0})
        fix = f"choose a data.batch_size that {ranks} divides ({' or '.join(map(str, fits))})"
    else:
        what = f"the full batch (data.batch_size=null) of n_samples {sorted(wrong)}"
        fix = f"give data.batch_size a value that {ranks} divides, or n_samples that it divides"
    raise SweepError(f"sweep config {sweep.ref}: {what} is not divisible by the {ranks} ranks of one point on "
                     f"{machine.name} ({layout}). Nothing was submitted: {fix}, or train the points one per "
                     "device (--config bundle_size=K)")
