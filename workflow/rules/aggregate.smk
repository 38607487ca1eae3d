# All metrics files of a sweep -> one results table (one row per run).


rule aggregate:
    input:
        lambda wildcards: plan(wildcards.sweep).trained,
    output:
        f"{RESULTS}/{{sweep}}/table.csv",
    log:
        f"{RESULTS}/{{sweep}}/logs/aggregate.log",
    params:
        metrics=lambda wildcards: plan(wildcards.sweep).metrics,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jetscale aggregate {params.metrics:q} --out {output:q} > {log:q} 2>&1"
