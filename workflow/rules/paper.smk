# `snakemake paper` (make paper SCALE=...): every sweep of the paper scale (configs/paper/<paper_scale>.yaml),
# its jet dataset's spectra, then per figure a numbers file (the analysis) and its drawing, and the report.
# Each step meets the next at files, so a figure reruns alone when its inputs change.
PAPER_DIR = paper_dir(RESULTS, PAPER.scale)
PAPER_CATEGORY = f"paper ({PAPER.scale})"


def paper_figure_inputs(wildcards):
    return {label: str(path) for label, path in figure_inputs(PAPER, RESULTS, wildcards.figure).items()}


rule paper_numbers:
    input:
        unpack(paper_figure_inputs),
    output:
        f"{PAPER_DIR}/numbers/{{figure}}.json",
    log:
        f"{PAPER_DIR}/logs/numbers-{{figure}}.log",
    wildcard_constraints:
        figure="|".join(PAPER_FIGURES),
    params:
        config=PAPER.source,
        # What the analysis reads from the scale file besides its inputs' paths: a changed value reruns the
        # figures (Snakemake's params trigger), so a numbers file never holds fits of an older setting.
        fit=f"bootstrap={PAPER.bootstrap} seed={PAPER.seed} holdout={PAPER.holdout}",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "jetscale paper-numbers --config {params.config:q} --figure {wildcards.figure} --results-dir {RESULTS:q} "
        "--out {output:q} > {log:q} 2>&1"


rule paper_figure:
    input:
        f"{PAPER_DIR}/numbers/{{figure}}.json",
    output:
        reported_figures(PAPER_DIR, ["{figure}"], "../report/paper_figure.rst", PAPER_CATEGORY),
    log:
        f"{PAPER_DIR}/logs/figure-{{figure}}.log",
    wildcard_constraints:
        figure="|".join(PAPER_FIGURES),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jetscale paper-figure {input:q} --out-dir {PAPER_DIR:q} > {log:q} 2>&1"


rule paper_report:
    input:
        numbers=expand(f"{PAPER_DIR}/numbers/{{figure}}.json", figure=PAPER_FIGURES),
        figures=expand(f"{PAPER_DIR}/{{figure}}.{{ext}}", figure=PAPER_FIGURES, ext=FIGURE_FORMATS),
    output:
        report=report(f"{PAPER_DIR}/report.md", caption="../report/paper_report.rst", category=PAPER_CATEGORY,
                      subcategory="Report"),
        numbers=report(f"{PAPER_DIR}/numbers.json", caption="../report/paper_numbers.rst", category=PAPER_CATEGORY,
                       subcategory="Report"),
    log:
        f"{PAPER_DIR}/logs/report.log",
    threads: 1
    shell:
        "jetscale paper-report {input.numbers:q} --out-dir {PAPER_DIR:q} > {log:q} 2>&1"


rule paper:
    input:
        rules.paper_report.output,
