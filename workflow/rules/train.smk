# One `jetscale train` job per sweep point. Only metrics.json is an output:
# checkpoints in the run dir survive a rerun, which resumes from last.ckpt.


rule train:
    input:
        TRAINING_DATA,
    output:
        metrics=f"{OUT}/runs/{{run_id}}/metrics.json",
    log:
        f"{OUT}/logs/train/{{run_id}}.log",
    benchmark:
        f"{OUT}/benchmarks/train/{{run_id}}.tsv"
    params:
        overrides=train_overrides,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "jetscale train {params.overrides} > {log:q} 2>&1"
