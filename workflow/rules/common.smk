# Sweep loading, validation and the paths every stage shares.
from jetscale.sweep import SweepError, load_sweep, run_id, shell_overrides, sweep_path

try:
    SWEEP = load_sweep(sweep_path(config["sweep"], Path(workflow.basedir) / "configs"))
except SweepError as err:
    raise WorkflowError(str(err)) from None

OUT = f"{config['results_dir']}/{SWEEP.name}"
POINTS = {run_id(point): point for point in SWEEP.points()}
FIT = SWEEP.fit_settings()
METRICS = expand(f"{OUT}/runs/{{run_id}}/metrics.json", run_id=list(POINTS))
TABLE = f"{OUT}/table.csv"
FITS = f"{OUT}/fits.json"
FIGURE_NAMES = ["loss_vs_n_samples", "loss_vs_width"]
FIGURES = expand(f"{OUT}/figures/{{name}}.{{ext}}", name=FIGURE_NAMES, ext=["png", "pdf"])

wildcard_constraints:
    run_id="[^/]+",
    law="data|params|joint",


def train_overrides(wildcards):
    """Shell-quoted Hydra overrides of one point (its run dir included)."""
    run_dir = f"{OUT}/runs/{wildcards.run_id}"
    overrides = SWEEP.hydra_overrides(POINTS[wildcards.run_id])
    return shell_overrides(overrides + [f'hydra.run.dir="{run_dir}"'])
