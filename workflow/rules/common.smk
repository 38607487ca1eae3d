# Sweeps, jet datasets and paper scale: loading, validation and the paths every stage shares.
# Every sweep-level path has a {sweep} wildcard (results/<sweep>/...) and every jet-data path a {dataset}
# wildcard (data/jets/<dataset>/...), so one DAG can hold the main sweep and all sweeps of the paper.
import functools
import re
from types import SimpleNamespace

from jetscale.cluster.bundle import bundles
from jetscale.machine import check_sweep, machine_of, machine_overrides, queue_limits, queue_resource, training_queue
from jetscale.data.generate.settings import ConfigError, load_config
from jetscale.paper.config import (
    PAPER_FIGURES, PaperConfigError, efp_tag, load_paper_config, paper_dir, spectrum_path, sweep_name, table_path,
)
from jetscale.paper.figures import figure_inputs
from jetscale.paths import generator_path
from jetscale.sweep import SweepError, check_against_config, load_sweep, run_id, shell_overrides, sweep_scales

CONFIGS = Path(workflow.basedir) / "configs"
RESULTS = config["results_dir"]
DATA_DIR = config["data_dir"]
TRAIN_DEFAULTS = {"mem_mb": 2000, "runtime": 30}  # training-job resources; a sweep's `resources:` wins


def _checked(load, *args, **kwargs):
    try:
        return load(*args, **kwargs)
    except (SweepError, ConfigError, PaperConfigError) as err:
        raise WorkflowError(str(err)) from None


# The machine of the profile (its workflow.yaml: accelerator, ranks per node, PBS facility).
MACHINE = _checked(machine_of, config)


# ---------------------------------------------------------------- jet datasets (data/jets/<dataset>/)


def jet_dataset(config_name, overrides):
    """A jet dataset this workflow generates: its generator settings and the overrides that shape it."""
    settings = _checked(load_config, generator_path(config_name, config_dir=CONFIGS), overrides)
    return SimpleNamespace(settings=settings, overrides=" ".join(overrides),
                           indices=[f"{i:05d}" for i in range(settings.generator.n_shards)])


MAIN_JET_OVERRIDES = [f"jets_per_shard={config['jets_per_shard']}"] if config.get("jets_per_shard") else []
if config.get("jet_shards"):
    MAIN_JET_OVERRIDES.append(f"n_shards={config['jet_shards']}")
MAIN_JETS = jet_dataset(config["jets_config"], MAIN_JET_OVERRIDES)
# The paper scale (configs/paper/<paper_scale>.yaml): its jet dataset and sweeps join the DAG.
PAPER = _checked(load_paper_config, config["paper_scale"], CONFIGS)
PAPER_JETS = jet_dataset(PAPER.jets.config, [f"n_shards={PAPER.jets.n_shards}",
                                             f"jets_per_shard={PAPER.jets.jets_per_shard}"])
JET_DATASETS = {MAIN_JETS.settings.dataset: MAIN_JETS}
if PAPER.jets.dataset in JET_DATASETS and PAPER_JETS.overrides != MAIN_JETS.overrides:
    raise WorkflowError(f"{PAPER.source}: jets.dataset {PAPER.jets.dataset!r} is also the workflow's jet dataset "
                        f"({config['jets_config']}, {MAIN_JETS.overrides or 'its own sizes'}) with other sizes; "
                        "give the paper's dataset its own name")
JET_DATASETS.setdefault(PAPER.jets.dataset, PAPER_JETS)
EFP_TAG = efp_tag(config["efp_dmax"], config["efp_beta"])


def jet_shards(dataset, suffix=".h5"):
    return expand(f"{DATA_DIR}/{dataset}/shard-{{index}}{suffix}", index=JET_DATASETS[dataset].indices)


def training_data(cfg):
    """Files every point of a sweep reads: a jet dataset's manifest, and its EFP caches for EFP models.
    When the dataset is one this workflow makes (JET_DATASETS), Snakemake generates them first."""
    data = cfg.data
    if "dataset_dir" not in data:
        return []
    dataset_dir = str(data.dataset_dir).rstrip("/")
    needs = [f"{dataset_dir}/manifest.json"]
    dataset = dataset_dir.removeprefix(f"{DATA_DIR}/")
    if "dmax" in data and dataset in JET_DATASETS:  # EFP taggers: the caches the datamodule will read
        needs += jet_shards(dataset, f".{efp_tag(data.dmax, data.beta)}.h5")
    return needs


# ---------------------------------------------------------------- sweeps (results/<sweep>/)


def sweep_named(ref, must_match_file=False):
    """The sweep `ref` names (configs/sweep/<name>.yaml or a path, then @<scale> for a file with scales:)."""
    sweep = _checked(load_sweep, ref, check_config=False, config_dir=CONFIGS)
    if must_match_file and sweep.name != sweep_name(sweep.ref):
        raise WorkflowError(f"{sweep.source}: name {sweep.name!r} must be the file name for the paper to find its "
                            f"table (results/{sweep_name(sweep.ref)}/table.csv)")
    return sweep


def same_sweep(a, b):
    return (Path(a.source).resolve(), a.scale) == (Path(b.source).resolve(), b.scale)


MAIN_SWEEP = sweep_named(config["sweep"])
SWEEPS = {MAIN_SWEEP.name: MAIN_SWEEP}
for _ref in PAPER.sweeps():
    _sweep = sweep_named(_ref, must_match_file=True)
    if not same_sweep(SWEEPS.setdefault(_sweep.name, _sweep), _sweep):
        raise WorkflowError(f"two sweeps are named {_sweep.name!r}: {SWEEPS[_sweep.name].ref} and {_sweep.ref}")

# `snakemake collapse --config collapse=<sweep file>`: each scale of the file is one grammar's sweep
# of the DAG, and workflow/rules/collapse.smk reads their tables into the collapse of sample complexities.
COLLAPSE_SWEEPS = [sweep_named(f"{config['collapse']}@{scale}") for scale in _checked(sweep_scales, config["collapse"],
                   CONFIGS)] if config.get("collapse") else []
for _sweep in COLLAPSE_SWEEPS:
    if not same_sweep(SWEEPS.setdefault(_sweep.name, _sweep), _sweep):
        raise WorkflowError(f"two sweeps are named {_sweep.name!r}: {SWEEPS[_sweep.name].ref} and {_sweep.ref}")


# A PBS queue's per-user job limit (facility.yaml max_queued) is a global resource that each training job in
# that queue takes one of: Snakemake keeps at most that many there, whatever --jobs says.
QUEUE_LIMITS = queue_limits(MACHINE)
for _resource, _limit in QUEUE_LIMITS.items():
    workflow.global_resources[_resource] = _limit


# The paper's jet sweeps must train on the paper's dataset, which this workflow generates.
PAPER_JET_DIR = f"{DATA_DIR}/{PAPER.jets.dataset}"
PAPER_JET_SWEEPS = {sweep_name(entry) for entry in PAPER.jet_sweeps()}


@functools.cache
def plan(name):
    """Everything the rules need about sweep ``name``, worked out when a rule first asks (composing a sweep's
    Hydra config takes a fraction of a second, so sweeps no target needs cost nothing)."""
    sweep = SWEEPS[name]
    largest = _checked(check_against_config, sweep)  # the largest point's composed config
    points = {run_id(point): point for point in sweep.points()}
    if name in PAPER_JET_SWEEPS and str(largest.data.get("dataset_dir", "")).rstrip("/") != PAPER_JET_DIR:
        raise WorkflowError(f"{sweep.source}: data.dataset_dir is {largest.data.get('dataset_dir')!r}, but the paper "
                            f"scale {PAPER.source} trains its jet sweeps on {PAPER_JET_DIR!r} (jets.dataset under "
                            "data_dir)")
    check_data_is_made(sweep, largest)
    _checked(check_sweep, sweep, largest, MACHINE, bundled=config["bundle_size"] > 1)  # batch vs ranks
    out = f"{RESULTS}/{name}"
    # bundle_size > 1: rule train_bundle trains K points per scheduler job and the table waits for its flags.
    bundled = bundles(points, config["bundle_size"], pack=config["bundle_pack"]) if config["bundle_size"] > 1 else {}
    metrics = expand(f"{out}/runs/{{run_id}}/metrics.json", run_id=list(points))
    return SimpleNamespace(
        sweep=sweep, points=points, bundles=bundled, metrics=metrics, fit=sweep.fit_settings(),
        trained=expand(f"{out}/bundles/{{bundle}}.done", bundle=list(bundled)) if bundled else metrics,
        training_data=training_data(largest),
        # Only gradient training has ranks; a closed-form point under a launcher would be solved once per rank.
        runs_on_ranks=largest.solver == "lightning",
        largest=largest,
        machine_overrides=machine_overrides(MACHINE, sweep, largest.solver),  # e.g. trainer.accelerator=gpu
    )


def check_data_is_made(sweep, largest):
    """A jet sweep's dataset must be one this workflow makes, or exist (its manifest.json); else say how to get it
    (a paper sweep of another scale runs through `make paper SCALE=...`) before Snakemake finds its input missing."""
    dataset_dir = str(largest.data.get("dataset_dir", "")).rstrip("/")
    manifest = Path(dataset_dir) / "manifest.json"
    if not dataset_dir or dataset_dir.removeprefix(f"{DATA_DIR}/") in JET_DATASETS or manifest.exists():
        return
    scales = [scale.stem for scale in sorted((CONFIGS / "paper").glob("*.yaml"))
              if sweep.name in {sweep_name(e) for e in _checked(load_paper_config, scale.stem, CONFIGS).sweeps()}]
    how = (f"it is a paper sweep: run it with `make paper SCALE={scales[0]}`, which makes its data"
           if scales else "generate it (jetscale generate --out DIR) or import it (jetscale import-data) first")
    raise WorkflowError(f"{sweep.source}: the sweep trains on {dataset_dir}, which this workflow does not make and "
                        f"which has no {manifest.name}; {how}")


def sweep_outputs(name):
    """The main products of sweep ``name``: its table, fits and figures. A sweep without laws (`fit: {laws: []}`,
    e.g. a transition such as the random hierarchy model's) gets figures of its points alone, except an IsoFLOP
    sweep (a compute axis), whose curves at fixed compute the per-axis figures would average over budgets."""
    out, laws = f"{RESULTS}/{name}", plan(name).fit["laws"]
    if not laws and "compute" in SWEEPS[name].axes:
        return [f"{out}/table.csv"]
    figures = expand(f"{out}/figures/{{figure}}.{{ext}}", figure=SWEEP_FIGURES, ext=FIGURE_FORMATS)
    return [f"{out}/table.csv", f"{out}/fits.json", *figures]


SWEEP_FIGURES = ["loss_vs_n_samples", "loss_vs_width", "throughput_vs_n_params"]
FIGURE_FORMATS = ["png", "pdf"]
FINAL = sweep_outputs(MAIN_SWEEP.name)


# ---------------------------------------------------------------- the HTML report (snakemake --report, make report)
# Outputs flagged with report() go into it with their caption (workflow/report/*.rst; caption paths are relative
# to workflow/rules/, where the rules are). A sweep's figures and fits are under its own category, every sweep's
# results table under one (a row per sweep with its runs and git revisions), the paper's files under the paper.
SWEEP_CATEGORY = "sweep {sweep}"
TABLES_CATEGORY = "results tables"


def reported_figures(folder, figures, caption, category):
    """``folder/<figure>.png`` and ``.pdf`` of each figure, flagged for the report under ``category`` / Figures and
    labelled by figure and format (the report shows one row per figure with a PNG/PDF toggle). ``caption`` may
    name the figure: ``../report/{figure}.rst``. A figure may be a wildcard: ``{figure}``."""
    return [report(f"{folder}/{figure}.{ext}", caption=caption.format(figure=figure), category=category,
                   subcategory="Figures", labels={"figure": figure, "format": ext.upper()})
            for figure in figures for ext in FIGURE_FORMATS]


wildcard_constraints:
    sweep="|".join(re.escape(name) for name in SWEEPS),
    dataset="|".join(re.escape(name) for name in JET_DATASETS),
    run_id="[^/]+",
    bundle=r"bundle-\d+",
    law="data|params|joint",
    index=r"\d{5}",
    dmax=r"\d",
    beta=r"[0-9.]+",
    scale="[^/]+",


def train_overrides(wildcards):
    """Shell-quoted Hydra overrides of one point: the sweep's, the machine's accelerator, its run dir."""
    run_dir = f"{RESULTS}/{wildcards.sweep}/runs/{wildcards.run_id}"
    planned = plan(wildcards.sweep)
    overrides = SWEEPS[wildcards.sweep].hydra_overrides(planned.points[wildcards.run_id]) + planned.machine_overrides
    return shell_overrides(overrides + [f'hydra.run.dir="{run_dir}"'])


def bundle_arguments(wildcards):
    """Shell-quoted `jetscale train-bundle` arguments: the sweep and the bundle's name; the command reads the
    members and their overrides from the sweep file (no point is ever an argument)."""
    return shell_overrides(["--sweep", SWEEPS[wildcards.sweep].ref, "--bundle", wildcards.bundle,
                            "--bundle-size", str(config["bundle_size"]),
                            "--runs-dir", f"{RESULTS}/{wildcards.sweep}/runs"] + ["--pack"] * config["bundle_pack"]
                           + machine_arguments(plan(wildcards.sweep).machine_overrides))


def machine_arguments(machine_overrides):
    """`--accelerator A [--precision P]` of a bundle: the machine overrides its points get (none: none)."""
    chosen = dict(o.split("=", 1) for o in machine_overrides)
    return [arg for key, option in (("trainer.accelerator", "--accelerator"), ("trainer.precision", "--precision"))
            if key in chosen for arg in (option, chosen[key])]


def bundle_digest(wildcards):
    """A digest of the bundle's members and the overrides they share: a param, so that Snakemake reruns the
    bundle when the sweep changes them (its members are not on its command line)."""
    import hashlib
    import json

    members = plan(wildcards.sweep).bundles[wildcards.bundle]
    payload = json.dumps([members, SWEEPS[wildcards.sweep].common_overrides()])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def launch_prefix(wildcards, resources):
    """The job's `mpi` resource (e.g. `srun`, or a PBS profile's mpiexec line) and a space; empty when unset
    or when the sweep's solver has no ranks (closed form). Profiles set it for multi-process (DDP) points; it
    is a launcher, so it reaches the shell as written (which is why sweeps may not set it)."""
    launcher = resources.get("mpi", "") if plan(wildcards.sweep).runs_on_ranks else ""
    return f"{launcher} " if launcher else ""


# Minutes asked for one shard's jobs: Pythia 8 + anti-kT makes ~200 jets/s per core here (benchmarks/generate.py);
# 2 min per 1000 jets (8 jets/s) leaves room for slower nodes and heavier settings. EFPs (d <= 5): as much again.
def generation_minutes(jets_per_shard):
    return 10 + 2 * -(-int(jets_per_shard) // 1000)


def efp_minutes(jets_per_shard):
    return generation_minutes(jets_per_shard)


def spectrum_launcher(wildcards, threads, resources):
    """The spectrum rules' MPI launcher and a space: the profile's `mpi` resource, else `mpiexec -n <threads>`."""
    return f"{resources.get('mpi') or f'mpiexec -n {threads}'} "


def training_resources():
    """Resources of the training rules: TRAIN_DEFAULTS, then the sweep's own `resources:` (a profile's
    set-resources still wins). Every key any sweep sets is declared; a sweep that does not set it gets the
    default, or leaves it unset (None)."""
    keys = dict.fromkeys([*TRAIN_DEFAULTS, *(key for sweep in SWEEPS.values() for key in sweep.resources)])
    return {**{key: _sweep_resource(key) for key in keys}, **{key: _in_queue(key) for key in QUEUE_LIMITS}}


def _in_queue(resource):
    def count(wildcards):
        return int(queue_resource(training_queue(MACHINE, SWEEPS[wildcards.sweep])) == resource)
    return count


def _sweep_resource(key):
    def value(wildcards):
        return SWEEPS[wildcards.sweep].resources.get(key, TRAIN_DEFAULTS.get(key))
    return value
