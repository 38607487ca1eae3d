# Jet generation: one job per shard (Pythia 8 + anti-kT), then the checksummed manifest.
# Shards are written atomically, so a killed job never leaves a shard that a later stage accepts.
# On PBS the profiles group many shards into one job per node (groups/group-components in their config.yaml).
# {dataset} is one of JET_DATASETS: the workflow's own (jets_config) and the paper scale's.


rule generate_shard:
    output:
        f"{DATA_DIR}/{{dataset}}/shard-{{index}}.h5",
    log:
        f"{DATA_DIR}/{{dataset}}/logs/generate/shard-{{index}}.log",
    benchmark:
        f"{DATA_DIR}/{{dataset}}/benchmarks/generate/shard-{{index}}.tsv"
    params:
        config=lambda wildcards: JET_DATASETS[wildcards.dataset].settings.source,
        overrides=lambda wildcards: JET_DATASETS[wildcards.dataset].overrides,
        out=lambda wildcards: f"{DATA_DIR}/{wildcards.dataset}",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=lambda wildcards: generation_minutes(JET_DATASETS[wildcards.dataset].settings.generator.jets_per_shard),
    shell:
        "jetscale generate --config {params.config:q} --shard {wildcards.index} --out {params.out:q} "
        "--no-manifest {params.overrides} > {log:q} 2>&1"


rule jet_manifest:
    input:
        lambda wildcards: jet_shards(wildcards.dataset),
    output:
        f"{DATA_DIR}/{{dataset}}/manifest.json",
    log:
        f"{DATA_DIR}/{{dataset}}/logs/manifest.log",
    params:
        out=lambda wildcards: f"{DATA_DIR}/{wildcards.dataset}",
    threads: 1
    shell:
        "jetscale manifest {params.out:q} --dataset {wildcards.dataset:q} > {log:q} 2>&1"
