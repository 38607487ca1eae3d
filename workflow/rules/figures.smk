# Loss vs n_samples per width and loss vs width per n_samples, with fits and theory; each point's training throughput.


rule figures:
    input:
        table=f"{RESULTS}/{{sweep}}/table.csv",
        fits=f"{RESULTS}/{{sweep}}/fits.json",
    output:
        reported_figures(f"{RESULTS}/{{sweep}}/figures", SWEEP_FIGURES, "../report/{figure}.rst", SWEEP_CATEGORY),
    log:
        f"{RESULTS}/{{sweep}}/logs/figures.log",
    params:
        outdir=lambda wildcards: f"{RESULTS}/{wildcards.sweep}/figures",
        loss_col=fit_setting("loss_col"),  # the column the laws were fitted to
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jetscale figures --table {input.table:q} --fits {input.fits:q} --loss-col {params.loss_col:q} "
        "--out-dir {params.outdir:q} > {log:q} 2>&1"
