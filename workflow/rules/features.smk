# EFP features cached next to each shard, and the data-covariance spectrum over the dataset.


rule efp_features:
    input:
        f"{JET_DIR}/shard-{{index}}.h5",
    output:
        f"{JET_DIR}/shard-{{index}}.efp-d{{dmax}}-b{{beta}}.h5",
    log:
        f"{JET_DIR}/logs/features/shard-{{index}}.efp-d{{dmax}}-b{{beta}}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    shell:
        "jetscale features --shard {input:q} --dmax {wildcards.dmax} --beta {wildcards.beta} > {log:q} 2>&1"


rule spectrum:
    input:
        manifest=f"{JET_DIR}/manifest.json",
        efps=JET_EFPS,
    output:
        json=f"{SPECTRUM_DIR}/spectrum.json",
        figures=multiext(f"{SPECTRUM_DIR}/spectrum", ".npz", ".png", ".pdf"),
    log:
        f"{JET_DIR}/logs/spectrum.log",
    params:
        data=JET_DIR,
        out=SPECTRUM_DIR,
        dmax=config["efp_dmax"],
        beta=config["efp_beta"],
    threads: 2
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "mpiexec -n {threads} jetscale spectrum --dataset {params.data:q} --features efp --dmax {params.dmax} "
        "--beta {params.beta} --out-dir {params.out:q} > {log:q} 2>&1"


rule jets:
    input:
        rules.spectrum.output,
