# EFP features cached next to each shard, and the data-covariance spectra of a dataset
# (results/<dataset>/spectrum/efp-d<dmax>-b<beta>/ and .../constituents/). The spectra stream the shards over
# MPI ranks: `mpiexec -n {threads}` here, the profile's `mpi` resource on a cluster (srun, or mpiexec with the
# node's layout).


rule efp_features:
    input:
        f"{DATA_DIR}/{{dataset}}/shard-{{index}}.h5",
    output:
        f"{DATA_DIR}/{{dataset}}/shard-{{index}}.efp-d{{dmax}}-b{{beta}}.h5",
    log:
        f"{DATA_DIR}/{{dataset}}/logs/features/shard-{{index}}.efp-d{{dmax}}-b{{beta}}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=lambda wildcards: efp_minutes(JET_DATASETS[wildcards.dataset].settings.generator.jets_per_shard),
    shell:
        "jetscale features --shard {input:q} --dmax {wildcards.dmax} --beta {wildcards.beta} > {log:q} 2>&1"


SPECTRUM_FILES = ["spectrum.json", "spectrum.npz"]


rule efp_spectrum:
    input:
        manifest=f"{DATA_DIR}/{{dataset}}/manifest.json",
        efps=lambda wildcards: jet_shards(wildcards.dataset, f".efp-d{wildcards.dmax}-b{wildcards.beta}.h5"),
    output:
        expand(f"{RESULTS}/{{{{dataset}}}}/spectrum/efp-d{{{{dmax}}}}-b{{{{beta}}}}/{{file}}", file=SPECTRUM_FILES),
    log:
        f"{DATA_DIR}/{{dataset}}/logs/spectrum-efp-d{{dmax}}-b{{beta}}.log",
    params:
        data=lambda wildcards: f"{DATA_DIR}/{wildcards.dataset}",
        out=lambda wildcards, output: str(Path(output[0]).parent),
        launch=spectrum_launcher,
    threads: 2
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "{params.launch}jetscale spectrum --dataset {params.data:q} --features efp --dmax {wildcards.dmax} "
        "--beta {wildcards.beta} --out-dir {params.out:q} > {log:q} 2>&1"


# The same EFPs' spectrum in another convention (docs/spectrum.md#conventions), e.g. Batson & Kahn's for the
# paper's figure 2: the directory name carries the options, which the paper scale file sets (bk_spectrum).
rule efp_spectrum_convention:
    input:
        manifest=f"{DATA_DIR}/{{dataset}}/manifest.json",
        efps=lambda wildcards: jet_shards(wildcards.dataset, f".efp-d{wildcards.dmax}-b{wildcards.beta}.h5"),
    output:
        expand(f"{RESULTS}/{{{{dataset}}}}/spectrum/efp-d{{{{dmax}}}}-b{{{{beta}}}}-{{{{centring}}}}-{{{{classes}}}}-"
               f"{{{{spectrum_scale}}}}/{{file}}", file=SPECTRUM_FILES),
    log:
        f"{DATA_DIR}/{{dataset}}/logs/spectrum-efp-d{{dmax}}-b{{beta}}-{{centring}}-{{classes}}-{{spectrum_scale}}.log",
    wildcard_constraints:
        centring="covariance|second-moment",
        classes="pooled|per-class",
        spectrum_scale="both|raw|standardised",
    params:
        data=lambda wildcards: f"{DATA_DIR}/{wildcards.dataset}",
        out=lambda wildcards, output: str(Path(output[0]).parent),
        launch=spectrum_launcher,
    threads: 2
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "{params.launch}jetscale spectrum --dataset {params.data:q} --features efp --dmax {wildcards.dmax} "
        "--beta {wildcards.beta} --centring {wildcards.centring} --classes {wildcards.classes} "
        "--scale {wildcards.spectrum_scale} --out-dir {params.out:q} > {log:q} 2>&1"


rule constituent_spectrum:
    input:
        manifest=f"{DATA_DIR}/{{dataset}}/manifest.json",
        shards=lambda wildcards: jet_shards(wildcards.dataset),
    output:
        expand(f"{RESULTS}/{{{{dataset}}}}/spectrum/constituents/{{file}}", file=SPECTRUM_FILES),
    log:
        f"{DATA_DIR}/{{dataset}}/logs/spectrum-constituents.log",
    params:
        data=lambda wildcards: f"{DATA_DIR}/{wildcards.dataset}",
        out=lambda wildcards, output: str(Path(output[0]).parent),
        launch=spectrum_launcher,
    threads: 2
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "{params.launch}jetscale spectrum --dataset {params.data:q} --features constituents "
        "--out-dir {params.out:q} > {log:q} 2>&1"


# The figure of any spectrum, drawn from its spectrum.json.
rule spectrum_figure:
    input:
        f"{RESULTS}/{{path}}/spectrum.json",
    output:
        f"{RESULTS}/{{path}}/spectrum.png",
        f"{RESULTS}/{{path}}/spectrum.pdf",
    log:
        f"{RESULTS}/{{path}}/spectrum-figure.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jetscale spectrum-figure {input:q} > {log:q} 2>&1"


# `snakemake jets`: the workflow's own jet dataset (jets_config), its EFPs and their spectrum.
rule jets:
    input:
        f"{RESULTS}/{MAIN_JETS.settings.dataset}/spectrum/{EFP_TAG}/spectrum.json",
        f"{RESULTS}/{MAIN_JETS.settings.dataset}/spectrum/{EFP_TAG}/spectrum.png",
