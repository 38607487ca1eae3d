# Scaling-law fits of a sweep's table: data law per width, params law per n_samples, joint law on all.
from jetscale.sweep import LAW_GROUP_BY


def group_by_option(wildcards):
    column = LAW_GROUP_BY[wildcards.law]
    return f"--group-by {column}" if column else ""


def fit_setting(key):
    return lambda wildcards: plan(wildcards.sweep).fit[key]


rule fit_law:
    input:
        f"{RESULTS}/{{sweep}}/table.csv",
    output:
        f"{RESULTS}/{{sweep}}/fits/{{law}}.json",
    log:
        f"{RESULTS}/{{sweep}}/logs/fit/{{law}}.log",
    params:
        group_by=group_by_option,
        bootstrap=fit_setting("bootstrap"),
        loss_col=fit_setting("loss_col"),
        seed=fit_setting("seed"),
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
        lambda wildcards: expand(f"{RESULTS}/{wildcards.sweep}/fits/{{law}}.json", law=plan(wildcards.sweep).fit["laws"]),
    output:
        report(f"{RESULTS}/{{sweep}}/fits.json", caption="../report/fits.rst", category=SWEEP_CATEGORY,
               subcategory="Fits"),
    log:
        f"{RESULTS}/{{sweep}}/logs/fit/merge.log",
    threads: 1
    shell:
        "jetscale merge-fits {input:q} --out {output:q} > {log:q} 2>&1"
