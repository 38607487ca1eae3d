# All metrics files of the sweep -> one results table (one row per run).


rule aggregate:
    input:
        METRICS,
    output:
        TABLE,
    log:
        f"{OUT}/logs/aggregate.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jetscale aggregate {input:q} --out {output:q} > {log:q} 2>&1"
