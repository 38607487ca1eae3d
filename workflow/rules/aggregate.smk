# All metrics files of a sweep -> one results table (one row per run), each checked against the sweep's point.


rule aggregate:
    input:
        lambda wildcards: plan(wildcards.sweep).trained,
    output:
        f"{RESULTS}/{{sweep}}/table.csv",
    log:
        f"{RESULTS}/{{sweep}}/logs/aggregate.log",
    params:
        sweep=lambda wildcards: SWEEPS[wildcards.sweep].ref,  # the points come from the sweep, not argv
        runs=lambda wildcards: f"{RESULTS}/{wildcards.sweep}/runs",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    shell:
        "jetscale aggregate --sweep {params.sweep:q} --runs-dir {params.runs:q} --out {output:q} > {log:q} 2>&1"
