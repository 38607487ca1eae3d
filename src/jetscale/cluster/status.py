"""``jetscale status <sweep> [--profile P]``: where every point of a sweep stands, for a login node.

Each point is exactly one of

==============  =========================================================================================
done            ``runs/<run id>/metrics.json`` of the point as the sweep states it now (what the table takes)
running         a trainer holds the point's ``train.lock`` (:mod:`jetscale.lifetime`), or its scheduler job runs
queued          its Slurm/PBS job (or its bundle's) waits in the queue
failed          it was started (its Snakemake log or an attempt record exists) and is none of the above;
                the last lines of its log are shown
stale           a metrics.json of other overrides: the next run trains it again
not started     nothing of the above
==============  =========================================================================================

The scheduler is asked only with ``--profile`` (Slurm: ``squeue``, matched by the comment Snakemake's Slurm
plugin gives each job; PBS: ``qstat``, matched by the job names ``jetscale pbs submit`` gives). Nothing here
writes a file or talks to Snakemake: it is safe beside a running sweep.
"""

from __future__ import annotations

import argparse
import getpass
import json
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from jetscale.cluster.bundle import bundles
from jetscale.cluster.pbs import job_name, unfinished_jobs_of
from jetscale.lifetime import ATTEMPTS, live_holder
from jetscale.paths import CONFIG_DIR, REPO_ROOT, WORKFLOW_CONFIG
from jetscale.results import override_mismatch, read_metrics
from jetscale.sweep import load_sweep, run_id
from jetscale.yamlfile import read_yaml

STATES = ("done", "running", "queued", "failed", "stale", "not started")
SHOWN = 10  # failed points shown with their log lines


@dataclass
class Point:
    run_id: str
    state: str = "not started"
    detail: str = ""
    log_tail: list[str] = field(default_factory=list)


def log_tail(paths: list[Path], lines: int) -> list[str]:
    """The last ``lines`` non-empty lines of the first log of ``paths`` that exists."""
    for path in paths:
        if path.is_file():
            with open(path, "rb") as handle:
                handle.seek(0, 2)
                handle.seek(max(0, handle.tell() - 64 * 1024))
                text = handle.read().decode(errors="replace")
            return [line for line in text.splitlines() if line.strip()][-lines:]
    return []


# --------------------------------------------------------------------------- the scheduler


def profile_dir(profile: str) -> Path:
    """``polaris`` -> ``<repo>/profiles/polaris``; a directory is taken as is."""
    return Path(profile) if Path(profile).is_dir() else REPO_ROOT / "profiles" / profile


def profile_scheduler(profile: str | None) -> str | None:
    """``slurm``, ``pbs`` or None (local), from the profile's ``config.yaml`` executor."""
    if not profile:
        return None
    config = profile_dir(profile) / "config.yaml"
    if not config.is_file():
        raise ValueError(f"no Snakemake profile {profile} (no {config})")
    settings = read_yaml(config) or {}
    if settings.get("executor") == "slurm":
        return "slurm"
    if "jetscale pbs" in str(settings.get("cluster-generic-submit-cmd", "")):
        return "pbs"
    return None


def slurm_jobs(squeue_output: str) -> dict[str, str]:
    """``squeue -h -o '%T|%k'`` -> {comment: queued|running}; the Slurm plugin's comment is
    ``rule_<rule>_wildcards_<wildcard values joined by _>``."""
    jobs = {}
    for line in squeue_output.splitlines():
        state, sep, comment = line.strip().partition("|")
        if sep:
            jobs[comment] = "queued" if state in ("PENDING", "CONFIGURING", "REQUEUED") else "running"
    return jobs


def pbs_jobs(qstat_json: str, user: str) -> dict[str, str]:
    """``qstat -f -F json`` -> {job name: queued|running} of ``user``'s jobs that have not finished."""
    try:
        jobs = json.loads(qstat_json, strict=False).get("Jobs") or {}
    except json.JSONDecodeError as err:
        raise ValueError(f"cannot read qstat's JSON: {err}") from None
    return {str(job.get("Job_Name", "")): "running" if job.get("job_state") in ("R", "E") else "queued"
            for job in unfinished_jobs_of(jobs, user).values()}


def scheduler_jobs(scheduler: str | None, run=subprocess.run) -> dict[str, str]:
    if scheduler == "slurm":
        out = run(["squeue", "-h", "-u", getpass.getuser(), "-o", "%T|%k"], capture_output=True, text=True,
                  timeout=60)
        if out.returncode != 0:
            raise ValueError(f"squeue failed: {out.stderr.strip()} (without --profile: the points' files alone)")
        return slurm_jobs(out.stdout)
    if scheduler == "pbs":
        out = run(["qstat", "-f", "-F", "json"], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise ValueError(f"qstat failed: {out.stderr.strip()} (without --profile: the points' files alone)")
        return pbs_jobs(out.stdout, getpass.getuser())
    return {}


def job_keys(scheduler: str | None, sweep: str, rule: str, wildcard: str, value: str) -> str:
    """How ``scheduler`` names the job of ``rule`` for one point or bundle (:func:`slurm_jobs`, :func:`pbs_jobs`)."""
    if scheduler == "pbs":
        return job_name({"rule": rule, "wildcards": {"sweep": sweep, wildcard: value}})
    return f"rule_{rule}_wildcards_{sweep}_{value}"


# --------------------------------------------------------------------------- the points


def sweep_status(sweep, results: Path, jobs: dict[str, str], scheduler: str | None,
                 bundle_size: int = 1, lines: int = 5) -> list[Point]:
    """The state of every point of ``sweep`` (in sweep order) under ``results/<sweep>``."""
    out = results / sweep.name
    points = {run_id(p): p for p in sweep.points()}
    in_bundle = {rid: name for name, members in bundles(points, bundle_size).items() for rid in members} \
        if bundle_size > 1 else {}
    statuses = []
    for rid, point in points.items():
        run_dir = out / "runs" / rid
        metrics = run_dir / "metrics.json"
        logs = [out / "logs" / "train" / f"{rid}.log", run_dir / "train.log"]
        job = jobs.get(job_keys(scheduler, sweep.name, "train", "run_id", rid))
        if rid in in_bundle:
            job = job or jobs.get(job_keys(scheduler, sweep.name, "train_bundle", "bundle", in_bundle[rid]))
        state = Point(rid)
        if metrics.is_file():
            try:
                mismatch = override_mismatch(read_metrics(metrics), sweep.hydra_overrides(point))
            except ValueError as err:
                mismatch = str(err)
            state.state, state.detail = ("stale", mismatch) if mismatch else ("done", "")
        holder = live_holder(run_dir) if state.state != "done" else None  # no lock probe for finished points
        if state.state != "done":
            if holder is not None:
                state.state, state.detail = "running", f"PID {holder.get('pid', '?')} on {holder.get('host', '?')}"
            elif job is not None:
                state.state, state.detail = job, "its scheduler job " + job
            elif state.state != "stale" and (any(p.is_file() for p in logs) or (run_dir / ATTEMPTS).is_file()):
                state.state, state.log_tail = "failed", log_tail(logs, lines)
        statuses.append(state)
    return statuses


def report(sweep, statuses: list[Point], scheduler: str | None, listed: str | None = None) -> str:
    counts = Counter(s.state for s in statuses)
    asked = f"asked {scheduler}" if scheduler else "no scheduler asked (give --profile)"
    lines = [f"{sweep.name} ({sweep.source}): {len(statuses)} points; {asked}",
             "  " + ", ".join(f"{state} {counts.get(state, 0)}" for state in STATES)]
    if listed:
        lines += [f"  {s.run_id}  {s.detail}".rstrip() for s in statuses if s.state == listed]
        return "\n".join(lines)
    failed = [s for s in statuses if s.state == "failed"]
    for point in failed[:SHOWN]:
        lines.append(f"failed: {point.run_id}")
        lines += [f"    | {line}" for line in point.log_tail] or ["    (no log)"]
    if len(failed) > SHOWN:
        lines.append(f"... and {len(failed) - SHOWN} more failed points (--list failed names them all)")
    stale = [s for s in statuses if s.state == "stale"]
    if stale:
        lines.append(f"stale: {stale[0].run_id}: {stale[0].detail}" + (f" (and {len(stale) - 1} more)"
                                                                      if len(stale) > 1 else ""))
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    defaults = read_yaml(WORKFLOW_CONFIG) or {}
    sweep = load_sweep(args.sweep, check_config=False, config_dir=CONFIG_DIR)
    scheduler = profile_scheduler(args.profile)
    bundle_size = args.bundle_size
    if bundle_size is None and args.profile and (profile_dir(args.profile) / "workflow.yaml").is_file():
        bundle_size = (read_yaml(profile_dir(args.profile) / "workflow.yaml") or {}).get("bundle_size")
    statuses = sweep_status(sweep, Path(args.results_dir or defaults.get("results_dir", "results")),
                            scheduler_jobs(scheduler), scheduler, int(bundle_size or 1), args.lines)
    print(report(sweep, statuses, scheduler, args.list))
    return 0


def register(sub) -> None:
    p = sub.add_parser("status", help="where each point of a sweep stands: done, running, queued, failed, ...",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep", help="configs/sweep/<name>.yaml, or a path to a sweep .yaml; <sweep>@<scale> for a scale")
    p.add_argument("--profile", help="the sweep's Snakemake profile (e.g. polaris, slurm, or a directory): its "
                                     "scheduler is asked which points are queued or running")
    p.add_argument("--results-dir", help="the workflow's results dir (default: workflow/config.yaml's)")
    p.add_argument("--bundle-size", type=int, help="points per job, as the sweep ran (default: the profile's)")
    p.add_argument("--lines", type=int, default=5, help="log lines shown per failed point (default 5)")
    p.add_argument("--list", choices=STATES, help="list the run ids of the points in this state")
    p.set_defaults(func=cmd_status)
