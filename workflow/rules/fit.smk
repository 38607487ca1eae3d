# Scaling-law fits of the table: data law per width, params law per n_samples, joint law on all.
from jetscale.sweep import LAW_GROUP_BY


def group_by_option(wildcards):
    column = LAW_GROUP_BY[wildcards.law]
    return f"--group-by {column}" if column else ""


rule fit_law:
    input:
        TABLE,
    output:
        f"{OUT}/fits/{{law}}.json",
    log:
        f"{OUT}/logs/fit/{{law}}.log",
    params:
        group_by=group_by_option,
        bootstrap=FIT["bootstrap"],
        loss_col=FIT["loss_col"],
        seed=FIT["seed"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "jetscale fit --table {input:q} --law {wildcards.law} {params.group_by} "
        "--loss-col {params.loss_col:q} --bootstrap {params.bootstrap} --seed {params.seed} "
        "--out {output:q} > {log:q} 2>&1"


rule merge_fits:
    input:
        expand(f"{OUT}/fits/{{law}}.json", law=FIT["laws"]),
    output:
        FITS,
    log:
        f"{OUT}/logs/fit/merge.log",
    threads: 1
    shell:
        "jetscale merge-fits {input:q} --out {output:q} > {log:q} 2>&1"
