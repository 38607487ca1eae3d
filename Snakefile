# jetscale workflow: sweep -> train (one job per point) -> aggregate -> fit -> figures;
# `jets` target: generate shards -> manifest -> EFP features -> covariance spectrum;
# `paper` target: the sweeps of a paper scale -> figures 1-5 and report.md (workflow/rules/paper.smk).
# `collapse` target (--config collapse=<sweep file>): one sweep per grammar -> their sample complexities'
# collapse in P / (n_c·m^L) (workflow/rules/collapse.smk).
# Pick a sweep with `--config sweep=<name>` (configs/sweep/<name>.yaml);
# where jobs run is set by the profile (`--profile profiles/local`).
from snakemake.utils import min_version, validate

min_version("8.0")

configfile: f"{workflow.basedir}/workflow/config.yaml"  # found from any --directory
validate(config, schema="workflow/schemas/config.schema.yaml")
report: "workflow/report/workflow.rst"  # the HTML report's front page (snakemake --report; make report)

include: "workflow/rules/common.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/collapse.smk"

# Seconds of work on small files: on a cluster they run where Snakemake runs, not as scheduler jobs.
localrules: all, jets, aggregate, fit_law, merge_fits, figures, spectrum_figure, paper_numbers, paper_figure, paper_report, paper, sample_complexity, sample_complexity_figure, collapse


rule all:
    default_target: True
    input:
        FINAL,
