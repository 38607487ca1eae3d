# All metrics files of a sweep -> one results table (one row per run), each checked against the sweep's point.


def table_provenance(wildcards, output):
    """The table's row in the HTML report, read from the made table: its sweep, runs, git revision(s) and what a
    reader must know about them (as the paper's report.md lists them)."""
    from jetscale.fit import load_table
    from jetscale.paper.report import sweep_provenance

    entry = sweep_provenance({wildcards.sweep: load_table(output[0])})[wildcards.sweep]
    return {"sweep": wildcards.sweep, "runs": str(entry["runs"]),  # strings: the report sorts rows by them
            "git revision(s)": ", ".join(entry["git_revisions"]), "warnings": "; ".join(entry["warnings"]) or "none"}


rule aggregate:
    input:
        lambda wildcards: plan(wildcards.sweep).trained,
    output:
        report(f"{RESULTS}/{{sweep}}/table.csv", caption="../report/table.rst", category=TABLES_CATEGORY,
               labels=table_provenance),
    log:
        f"{RESULTS}/{{sweep}}/logs/aggregate.log",
    params:
        sweep=lambda wildcards: SWEEPS[wildcards.sweep].ref,  # the points come from the sweep, not argv
        runs=lambda wildcards: f"{RESULTS}/{wildcards.sweep}/runs",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    shell:
        "jetscale aggregate --sweep {params.sweep:q} --runs-dir {params.runs:q} --out {output:q} > {log:q} 2>&1"
