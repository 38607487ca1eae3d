# Loss vs n_samples per width and loss vs width per n_samples, with fits and theory.


rule figures:
    input:
        table=TABLE,
        fits=FITS,
    output:
        FIGURES,
    log:
        f"{OUT}/logs/figures.log",
    params:
        outdir=f"{OUT}/figures",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jetscale figures --table {input.table:q} --fits {input.fits:q} --out-dir {params.outdir:q} > {log:q} 2>&1"
