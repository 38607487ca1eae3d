# Jet generation: one job per shard (Pythia 8 + anti-kT), then the checksummed manifest.
# Shards are written atomically, so a killed job never leaves a shard that a later stage accepts.


rule generate_shard:
    output:
        f"{JET_DIR}/shard-{{index}}.h5",
    log:
        f"{JET_DIR}/logs/generate/shard-{{index}}.log",
    benchmark:
        f"{JET_DIR}/benchmarks/generate/shard-{{index}}.tsv"
    params:
        config=JETS.source,
        overrides=JET_OVERRIDES,
        out=JET_DIR,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=240,
    shell:
        "jetscale generate --config {params.config:q} --shard {wildcards.index} --out {params.out:q} "
        "--no-manifest {params.overrides} > {log:q} 2>&1"


rule jet_manifest:
    input:
        JET_SHARDS,
    output:
        f"{JET_DIR}/manifest.json",
    log:
        f"{JET_DIR}/logs/manifest.log",
    params:
        out=JET_DIR,
        dataset=JETS.dataset,
    threads: 1
    shell:
        "jetscale manifest {params.out:q} --dataset {params.dataset:q} > {log:q} 2>&1"
