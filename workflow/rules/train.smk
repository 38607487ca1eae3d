# One `jetscale train` job per sweep point. Only metrics.json is an output:
# checkpoints in the run dir survive a rerun, which resumes from last.ckpt (if it is of the same config).
# The shell command is kept as it is: Snakemake reruns every finished point of a rule whose code changed.
# Every attempt's log lines stay in the run dir's train.log, which is appended to.
# Resources: TRAIN_DEFAULTS < the sweep's `resources:` < a profile's set-resources.


rule train:
    input:
        lambda wildcards: plan(wildcards.sweep).training_data,
    output:
        metrics=f"{RESULTS}/{{sweep}}/runs/{{run_id}}/metrics.json",
    log:
        f"{RESULTS}/{{sweep}}/logs/train/{{run_id}}.log",
    benchmark:
        f"{RESULTS}/{{sweep}}/benchmarks/train/{{run_id}}.tsv"
    params:
        overrides=train_overrides,
        launch=launch_prefix,
    threads: 1
    resources:
        **training_resources(),
    shell:
        "{params.launch}jetscale train {params.overrides} > {log:q} 2>&1"


# bundle_size > 1: K points per scheduler job (jetscale.cluster.bundle), one per GPU of the allocation or
# packed; without GPUs, `threads` points at a time (set-threads in a profile). The points' metrics.json files
# are not outputs here, so a rerun of an interrupted bundle never deletes the finished ones: it skips them and
# resumes the others. The flag appears when all have finished.
rule train_bundle:
    input:
        lambda wildcards: plan(wildcards.sweep).training_data,
    output:
        touch(f"{RESULTS}/{{sweep}}/bundles/{{bundle}}.done"),
    log:
        f"{RESULTS}/{{sweep}}/logs/train_bundle/{{bundle}}.log",
    benchmark:
        f"{RESULTS}/{{sweep}}/benchmarks/train_bundle/{{bundle}}.tsv"
    params:
        arguments=bundle_arguments,
        members=bundle_digest,  # members and overrides changed: rerun (finished members of them are kept)
    threads: 1
    resources:
        **training_resources(),
    shell:
        "jetscale train-bundle --cpu-slots {threads} {params.arguments} > {log:q} 2>&1"
