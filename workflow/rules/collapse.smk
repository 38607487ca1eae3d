# `snakemake collapse --config collapse=<sweep file>`: the sweeps of one grammar each (the scales of that file,
# registered in common.smk), then the collapse of their sample complexities in P / (n_c·m^L) (the numbers file,
# the analysis) and its drawing, under results/<file's name>/. docs/tasks.md#sample-complexity.
if COLLAPSE_SWEEPS:
    COLLAPSE_DIR = f"{RESULTS}/{COLLAPSE_SWEEPS[0].name.removesuffix('-' + COLLAPSE_SWEEPS[0].scale)}"

    rule sample_complexity:
        input:
            [f"{RESULTS}/{sweep.name}/table.csv" for sweep in COLLAPSE_SWEEPS],
        output:
            f"{COLLAPSE_DIR}/collapse.json",
        log:
            f"{COLLAPSE_DIR}/logs/collapse.log",
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        shell:
            "jetscale sample-complexity {input:q} --out {output:q} > {log:q} 2>&1"

    rule sample_complexity_figure:
        input:
            f"{COLLAPSE_DIR}/collapse.json",
        output:
            reported_figures(COLLAPSE_DIR, ["collapse"], "../report/collapse.rst", "sample complexity"),
        log:
            f"{COLLAPSE_DIR}/logs/collapse-figure.log",
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        shell:
            "jetscale sample-complexity-figure {input:q} --out-dir {COLLAPSE_DIR:q} > {log:q} 2>&1"

    rule collapse:
        input:
            rules.sample_complexity.output,
            rules.sample_complexity_figure.output,
