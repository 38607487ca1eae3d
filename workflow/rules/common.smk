# Sweep loading, validation and the paths every stage shares.
from jetscale.cluster.bundle import bundles
from jetscale.sweep import SweepError, compose_point, largest_point, load_sweep, run_id, shell_overrides, sweep_path

try:
    SWEEP = load_sweep(sweep_path(config["sweep"], Path(workflow.basedir) / "configs"))
except SweepError as err:
    raise WorkflowError(str(err)) from None

OUT = f"{config['results_dir']}/{SWEEP.name}"
POINTS = {run_id(point): point for point in SWEEP.points()}
FIT = SWEEP.fit_settings()
METRICS = expand(f"{OUT}/runs/{{run_id}}/metrics.json", run_id=list(POINTS))
# bundle_size > 1: rule train_bundle trains K points per scheduler job and the table waits for its flags.
BUNDLES = bundles(POINTS, config["bundle_size"], pack=config["bundle_pack"]) if config["bundle_size"] > 1 else {}
TRAINED = expand(f"{OUT}/bundles/{{bundle}}.done", bundle=list(BUNDLES)) if BUNDLES else METRICS
TABLE = f"{OUT}/table.csv"
FITS = f"{OUT}/fits.json"
FIGURE_NAMES = ["loss_vs_n_samples", "loss_vs_width"]
FIGURES = expand(f"{OUT}/figures/{{name}}.{{ext}}", name=FIGURE_NAMES, ext=["png", "pdf"])
# `fit: {laws: []}` (e.g. an IsoFLOP sweep, whose curves are not power laws) stops at the table.
FINAL = [TABLE, FITS, *FIGURES] if FIT["laws"] else [TABLE]

# Jet datasets (the `jets` target). The generator config is only read here; nothing is generated
# unless a jet target is asked for.
from jetscale.data.generate.settings import ConfigError, load_config


def jets_config_path(name):
    return Path(name) if name.endswith((".yaml", ".yml")) else Path(workflow.basedir) / "configs" / "data" / f"{name}.yaml"


JET_OVERRIDES_LIST = [f"{key}={config[key]}" for key in ("jets_per_shard",) if config.get(key)]
if config.get("jet_shards"):
    JET_OVERRIDES_LIST.append(f"n_shards={config['jet_shards']}")
try:
    JETS = load_config(jets_config_path(config["jets_config"]), JET_OVERRIDES_LIST)
except ConfigError as err:
    raise WorkflowError(str(err)) from None
JET_OVERRIDES = " ".join(JET_OVERRIDES_LIST)
JET_DIR = f"{config['data_dir']}/{JETS.dataset}"
JET_INDICES = [f"{i:05d}" for i in range(JETS.generator.n_shards)]
JET_SHARDS = expand(f"{JET_DIR}/shard-{{index}}.h5", index=JET_INDICES)
EFP_TAG = f"efp-d{config['efp_dmax']}-b{config['efp_beta']:g}"
JET_EFPS = expand(f"{JET_DIR}/shard-{{index}}.{EFP_TAG}.h5", index=JET_INDICES)
SPECTRUM_DIR = f"{config['results_dir']}/{JETS.dataset}/spectrum/{EFP_TAG}"

wildcard_constraints:
    run_id="[^/]+",
    bundle=r"bundle-\d+",
    law="data|params|joint",
    index=r"\d{5}",
    dmax=r"\d",
    beta=r"[0-9.]+",


def train_overrides(wildcards):
    """Shell-quoted Hydra overrides of one point (its run dir included)."""
    run_dir = f"{OUT}/runs/{wildcards.run_id}"
    overrides = SWEEP.hydra_overrides(POINTS[wildcards.run_id])
    return shell_overrides(overrides + [f'hydra.run.dir="{run_dir}"'])


def bundle_arguments(wildcards):
    """Shell-quoted `jetscale train-bundle` arguments: each member's run dir, then the overrides common to all
    (a member's own come from its run dir's name)."""
    run_dirs = [arg for rid in BUNDLES[wildcards.bundle] for arg in ("--run-dir", f"{OUT}/runs/{rid}")]
    return shell_overrides(["--pack"] * config["bundle_pack"] + run_dirs + SWEEP.common_overrides())


def launch_prefix(wildcards, resources):
    """The job's `mpi` resource (e.g. `srun`, or a PBS profile's mpiexec line) and a space; empty when unset
    or when the sweep's solver has no ranks (closed form). Profiles set it for multi-process (DDP) points; it
    is a launcher, so it reaches the shell as written (which is why sweeps may not set it)."""
    launcher = resources.get("mpi", "") if RUNS_ON_RANKS else ""
    return f"{launcher} " if launcher else ""


def training_data(cfg):
    """Files every point of the sweep reads: a jet dataset's manifest, and its EFP caches for EFP models.
    When the dataset is this workflow's own (JET_DIR), Snakemake generates them first."""
    data = cfg.data
    if "dataset_dir" not in data:
        return []
    dataset_dir = str(data.dataset_dir).rstrip("/")
    needs = [f"{dataset_dir}/manifest.json"]
    if "dmax" in data and dataset_dir == JET_DIR:  # EFP taggers: the caches the datamodule will read
        needs += expand(f"{JET_DIR}/shard-{{index}}.efp-d{data.dmax}-b{data.beta:g}.h5", index=JET_INDICES)
    return needs


LARGEST_POINT_CONFIG = compose_point(SWEEP, largest_point(SWEEP))
TRAINING_DATA = training_data(LARGEST_POINT_CONFIG)
# Only gradient training has ranks; a closed-form point under a launcher would be solved once per rank.
RUNS_ON_RANKS = LARGEST_POINT_CONFIG.solver == "lightning"
