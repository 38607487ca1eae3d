# All metrics files of the sweep -> one results table (one row per run).


rule aggregate:
    input:
        TRAINED,
    output:
        TABLE,
    log:
        f"{OUT}/logs/aggregate.log",
    params:
        metrics=METRICS,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jetscale aggregate {params.metrics:q} --out {output:q} > {log:q} 2>&1"
