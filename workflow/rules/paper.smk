# `snakemake paper` (make paper SCALE=...): every sweep of the paper scale (configs/paper/<paper_scale>.yaml),
# its jet dataset's spectra, then figures 1-5, report.md and numbers.json in results/paper/<scale>/.
PAPER_DIR = paper_dir(RESULTS, PAPER.scale)


rule paper:
    input:
        tables=[str(table_path(RESULTS, name)) for name in PAPER.sweeps()],
        efp_spectrum=str(spectrum_path(RESULTS, PAPER.jets.dataset, "efp", PAPER.efp_dmax, PAPER.efp_beta)),
        constituent_spectrum=str(spectrum_path(RESULTS, PAPER.jets.dataset, "constituents")),
    output:
        report=f"{PAPER_DIR}/report.md",
        numbers=f"{PAPER_DIR}/numbers.json",
        figures=expand(f"{PAPER_DIR}/{{figure}}.{{ext}}", figure=PAPER_FIGURES, ext=["png", "pdf"]),
    log:
        f"{PAPER_DIR}/logs/paper.log",
    params:
        config=PAPER.source,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "jetscale paper --config {params.config:q} --results-dir {RESULTS:q} --out-dir {PAPER_DIR:q} > {log:q} 2>&1"
