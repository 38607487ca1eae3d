"""PBS Pro at ALCF (Polaris, Aurora): the submit, status and cancel commands of the Snakemake profiles.

    jetscale pbs submit --facility polaris JOBSCRIPT    qsub the Snakemake job script, print the job id
    jetscale pbs status JOBID                           print running | success | failed
    jetscale pbs cancel JOBID...                        qdel
    jetscale pbs queues --facility aurora [--live]      the queue table; --live: compared with qstat -Qf
    (also ``python -m jetscale.cluster.pbs ...``)

``profiles/polaris`` and ``profiles/aurora`` run them through Snakemake's
``cluster-generic`` executor.  What differs between the machines is data in
``profiles/<facility>/facility.yaml`` (system name, ranks per node, CPU binding,
default filesystems, software environment, queue table); the job script
template, ``profiles/pbs/jobscript.sh``, is shared.

**submit** reads the job's resources from the ``# properties = {...}`` line that
Snakemake writes into every job script (what ``snakemake.utils.read_job_properties``
reads), then checks the request against the facility's queue table *before*
anything reaches PBS:

==============  =============================================================
resource        meaning (Snakemake resource of the rule or profile)
==============  =============================================================
``nodes``       ``-l select=<nodes>:system=<system>`` (default 1)
``walltime``    ``"HH:MM:SS"``; else ``runtime`` (minutes, Snakemake's standard)
``queue``       ``-q``; default the facility's ``default_queue``
``account``     ``-A`` (alias ``project``); the profiles set it from
                ``$JETSCALE_PBS_ACCOUNT``. Unset: an error, nothing submitted
``filesystems`` ``-l filesystems=...``; default the facility's (``home:eagle``)
==============  =============================================================

The facility's layout reaches the job script as ``qsub -v`` variables
(``RANKS_PER_NODE``, ``DEPTH``, ``CPU_BIND``, ``MASTER_PORT``, ``JETSCALE_ENV_FILE``,
``JETSCALE_WALLTIME_S``, ``JETSCALE_DEADLINE_MARGIN_S``): PBS jobs do not inherit the
submitting shell's environment.  Every value goes to ``qsub`` as one argv item.

**status** asks ``qstat -xf -F json`` (``-x``: finished jobs too) and maps PBS Pro
states to Snakemake's three words: finished (``F``) with ``Exit_status`` 0 is
*success*, any other exit status *failed*; queued, running, held, exiting, ...
are *running*.  A job id qstat does not know (``Unknown Job Id``, exit 153) is
*failed*, so a job that vanished never keeps the workflow waiting; a qstat that
cannot reach the server answers *running* (the next poll asks again).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from jetscale.paths import REPO_ROOT
from jetscale.yamlfile import YAMLFileError, read_validated

PROPERTIES = re.compile(r"^# properties = (.*)$", re.M)  # the line Snakemake writes into every job script
ACCOUNT_ENV = "JETSCALE_PBS_ACCOUNT"
ENV_FILE_ENV = "JETSCALE_ENV_FILE"  # set on the submit host (even empty), it replaces the facility's env_file
STATUSES = ("running", "success", "failed")
FINISHED_STATES = {"F", "X"}  # F: finished (qstat -x), X: finished subjob
UNKNOWN_JOB_EXIT = 153  # PBSE_UNKJOBID (15001) as qstat's exit status
NAME_MAX = 236  # PBS Pro's longest job name
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.+-]+$")
FILESYSTEMS = re.compile(r"^[A-Za-z0-9_]+(:[A-Za-z0-9_]+)*$")


class PBSError(ValueError):
    """A job that must not be submitted (bad request, unknown queue, missing project), with the reason."""


# --------------------------------------------------------------------------- walltimes


def parse_walltime(value) -> int:
    """Walltime ``HH:MM:SS`` -> seconds (``"01:30:00"`` -> 5400). PBS would also take ``MM:SS`` and ``SS``;
    they are refused here, so that ``"01:00"`` or ``60`` never mean a minute by accident."""
    match = re.fullmatch(r"(\d+):([0-5]\d):([0-5]\d)", str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise PBSError(f"walltime {value!r} is not \"HH:MM:SS\" (or give runtime in minutes)")
    hours, minutes, seconds = (int(g) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def format_walltime(seconds: int) -> str:
    """Seconds -> ``HH:MM:SS`` (hours may exceed 24: ``"72:00:00"``)."""
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


# --------------------------------------------------------------------------- facility


@dataclass(frozen=True)
class Queue:
    """A queue's limits; a routing queue (``prod``) also lists the execution queues it routes to by size."""

    name: str
    nodes: tuple[int, int]
    walltime: tuple[int, int]  # seconds
    routes: tuple[Queue, ...] = ()
    rerunnable: bool = False  # qsub -r y: PBS requeues the job after a preemption (same job id)
    max_queued: int | None = None  # jobs per user, queued or running (ALCF's "max N jobs queued or running")
    max_running: int | None = None  # jobs per user running at once

    def describe(self) -> str:
        lo, hi = (format_walltime(t) for t in self.walltime)
        limit = f", {self.max_queued} job{'s' * (self.max_queued > 1)} per user" if self.max_queued else ""
        return f"{self.name} ({self.nodes[0]}-{self.nodes[1]} nodes, {lo}-{hi}{limit})"

    def takes(self, nodes: int, walltime: int) -> bool:
        try:
            self.check(nodes, walltime)
        except PBSError:
            return False
        return True

    def check(self, nodes: int, walltime: int) -> None:
        """Raise :class:`PBSError` naming this queue and the limit the request breaks."""
        lo, hi = self.nodes
        if not lo <= nodes <= hi:
            raise PBSError(f"queue {self.name} takes {lo}-{hi} nodes (at most {hi}), the job asks for {nodes}")
        lo, hi = self.walltime
        if not lo <= walltime <= hi:
            raise PBSError(f"queue {self.name} takes walltimes {format_walltime(lo)}-{format_walltime(hi)} "
                           f"(at most {format_walltime(hi)}), the job asks for {format_walltime(walltime)}")
        if self.routes:
            route = next((r for r in self.routes if r.nodes[0] <= nodes <= r.nodes[1]), None)
            if route is None:
                raise PBSError(f"queue {self.name} routes no queue for {nodes} nodes")
            try:
                route.check(nodes, walltime)
            except PBSError as err:
                raise PBSError(f"queue {self.name} routes {nodes} nodes to {route.name}: {err}") from None


@dataclass(frozen=True)
class Facility:
    """One machine's PBS settings (``profiles/<name>/facility.yaml``)."""

    name: str
    system: str
    filesystems: str
    ranks_per_node: int
    depth: int
    cpu_bind: str
    default_queue: str
    queues: dict[str, Queue]
    env_file: Path | None = None
    master_port: int = 29500
    master_addr_suffix: str = ""  # appended to rank 0's short host name (Aurora: its Slingshot interface)
    deadline_margin_s: int = 300
    log_dir: str = "logs/pbs"
    forward_env: tuple[str, ...] = ()
    source: str = "<memory>"

    def queue(self, name: str) -> Queue:
        if name not in self.queues:
            raise PBSError(f"{self.source}: unknown queue {name!r}; {self.name} has " + ", ".join(self.queues))
        return self.queues[name]


def facility_path(name: str) -> Path:
    """``polaris`` -> ``<repo>/profiles/polaris/facility.yaml``; a path to a ``.yaml`` file is taken as is."""
    if name.endswith((".yaml", ".yml")) or os.sep in name:
        return Path(name)
    return REPO_ROOT / "profiles" / name / "facility.yaml"


def _queue(name: str, raw: dict, where: str) -> Queue:
    """A queue of a facility file already checked against its schema: [min, max] must be in order."""
    nodes, walltime = tuple(raw["nodes"]), tuple(parse_walltime(t) for t in raw["walltime"])
    for key, (low, high) in (("nodes", nodes), ("walltime", walltime)):
        if low > high:
            raise PBSError(f"{where}: queues.{name}.{key} = {raw[key]!r}: must be [min, max] with min <= max")
    routes = tuple(_queue(r, spec, where) for r, spec in (raw.get("routes") or {}).items())
    return Queue(name, nodes, walltime, routes, raw.get("rerunnable", False),
                 max_queued=raw.get("max_queued"), max_running=raw.get("max_running"))


def load_facility(name_or_path: str) -> Facility:
    """A facility file, checked against ``workflow/schemas/facility.schema.yaml``; errors name the file and key."""
    path = facility_path(name_or_path)
    if not path.is_file():
        raise PBSError(f"no facility file {path} (give a facility name such as polaris, or a path)")
    try:
        raw = read_validated(path, "facility")
    except YAMLFileError as bad:
        raise PBSError(str(bad)) from None
    queues = {name: _queue(name, spec, str(path)) for name, spec in raw["queues"].items()}
    env_file = raw.get("env_file")
    facility = Facility(
        name=raw.get("name", path.parent.name), system=raw["system"], filesystems=raw["filesystems"],
        ranks_per_node=raw["ranks_per_node"], depth=raw["depth"], cpu_bind=raw["cpu_bind"],
        default_queue=raw["default_queue"], queues=queues,
        env_file=(path.parent / env_file).resolve() if env_file else None,
        master_port=raw.get("master_port", 29500), master_addr_suffix=raw.get("master_addr_suffix") or "",
        deadline_margin_s=raw.get("deadline_margin_s", 300),
        log_dir=raw.get("log_dir", "logs/pbs"), forward_env=tuple(raw.get("forward_env") or ()),
        source=str(path))
    facility.queue(facility.default_queue)
    return facility


# --------------------------------------------------------------------------- one job


def job_properties(jobscript_text: str) -> dict:
    """The job's properties (rule, wildcards, resources, ...) from its Snakemake job script."""
    match = PROPERTIES.search(jobscript_text)
    if not match:
        raise PBSError("the job script has no '# properties = {...}' line; is it a Snakemake job script?")
    return json.loads(match.group(1))


def job_name(properties: dict) -> str:
    """``train.n_samples-16__width-8``: the rule and its wildcard values, in characters PBS accepts."""
    parts = [properties.get("rule") or properties.get("groupid") or "job"]
    parts += [str(v) for v in (properties.get("wildcards") or {}).values()]
    name = re.sub(r"[^A-Za-z0-9_.+-]", "-", ".".join(parts))
    return (name if name[:1].isalpha() else f"j{name}")[:NAME_MAX]


@dataclass(frozen=True)
class Request:
    """What one job asks PBS for."""

    name: str
    nodes: int
    walltime: int  # seconds
    queue: str
    account: str
    filesystems: str


def _unset(value) -> bool:
    """An account left at the profile's ``$JETSCALE_PBS_ACCOUNT`` (unset variable) or a ``<placeholder>``."""
    text = str(value or "").strip()
    return not text or text.startswith(("$", "<"))


def job_request(properties: dict, facility: Facility, environ=os.environ) -> Request:
    """What one Snakemake job asks PBS for. A group job (many shards of one dataset: the profiles' ``groups``) is
    one Snakemake running its members side by side on the job's first node: it asks one node, whatever the sum of
    its members' ``nodes`` that Snakemake reports."""
    resources = properties.get("resources") or {}
    nodes = resources.get("nodes", 1)
    if isinstance(nodes, bool) or not str(nodes).isdigit() or int(nodes) < 1:
        raise PBSError(f"resources nodes={nodes!r}: need a whole number >= 1")
    nodes = 1 if properties.get("type") == "group" else int(nodes)
    if resources.get("walltime") not in (None, ""):
        walltime = parse_walltime(resources["walltime"])
    elif isinstance(resources.get("runtime"), (int, float)) and resources["runtime"] > 0:
        walltime = int(round(resources["runtime"] * 60))
    else:
        raise PBSError("the job has neither a walltime (HH:MM:SS) nor a runtime (minutes) resource")

    account = next((resources[k] for k in ("account", "project") if not _unset(resources.get(k))), None)
    account = account if account is not None else environ.get(ACCOUNT_ENV, "")
    if _unset(account):
        raise PBSError(f"no PBS project to charge: export {ACCOUNT_ENV}=<your ALCF project> before snakemake "
                       "(the profile's default-resources read it); nothing was submitted")
    account = str(account).strip()
    filesystems = str(resources.get("filesystems") or facility.filesystems)
    queue = str(resources.get("queue") or facility.default_queue)
    if not SAFE_VALUE.match(account):
        raise PBSError(f"account {account!r}: only letters, digits and _ . + - are allowed")
    if not FILESYSTEMS.match(filesystems):
        raise PBSError(f"filesystems {filesystems!r}: expected names joined by ':', e.g. home:eagle")
    return Request(job_name(properties), nodes, walltime, queue, account, filesystems)


def check_request(request: Request, facility: Facility) -> Queue:
    """The request's queue if it takes the request; else :class:`PBSError` with the queue, its limit and the
    queues that would take it."""
    queue = facility.queue(request.queue)
    try:
        queue.check(request.nodes, request.walltime)
    except PBSError as err:
        fits = [q.describe() for q in facility.queues.values() if q.takes(request.nodes, request.walltime)]
        hint = f"; queues that take it: {', '.join(fits)}" if fits else ""
        raise PBSError(f"{facility.name}: {err} (job {request.name}){hint}. Nothing was submitted") from None
    return queue


def job_variables(request: Request, facility: Facility, environ=os.environ) -> dict[str, str]:
    """What the job script needs, for ``qsub -v`` (PBS jobs do not inherit the submit host's environment)."""
    env_file = environ[ENV_FILE_ENV] if ENV_FILE_ENV in environ else str(facility.env_file or "")
    variables = {
        ENV_FILE_ENV: env_file,
        "RANKS_PER_NODE": str(facility.ranks_per_node),
        "DEPTH": str(facility.depth),
        "CPU_BIND": facility.cpu_bind,
        "MASTER_PORT": str(facility.master_port),
        "JETSCALE_MASTER_ADDR_SUFFIX": facility.master_addr_suffix,
        "JETSCALE_WALLTIME_S": str(request.walltime),
        "JETSCALE_DEADLINE_MARGIN_S": str(facility.deadline_margin_s),
    }
    variables.update({name: environ[name] for name in facility.forward_env if environ.get(name)})
    for name, value in variables.items():
        if any(c in value for c in ",'\"\n"):  # qsub -v splits at commas; quotes would need PBS's own escaping
            raise PBSError(f"{name}={value!r}: a value passed with qsub -v may not contain commas, quotes or newlines")
    return variables


def qsub_command(jobscript: str | Path, facility: Facility, request: Request, queue: Queue, workdir: Path,
                 environ=os.environ) -> list[str]:
    """The qsub argv of one job (nothing here goes through a shell)."""
    log_dir = (workdir / facility.log_dir).resolve()
    variables = job_variables(request, facility, environ)
    command = [
        "qsub",
        "-N", request.name,
        "-A", request.account,
        "-q", request.queue,
        "-l", f"select={request.nodes}:system={facility.system}",
        "-l", "place=scatter",
        "-l", f"walltime={format_walltime(request.walltime)}",
        "-l", f"filesystems={request.filesystems}",
        "-j", "oe",
        "-k", "doe",  # output written straight to -o while the job runs
        "-o", str(log_dir / f"{request.name}.log"),
        "-v", ",".join(f"{k}={v}" for k, v in variables.items()),
    ]
    if queue.rerunnable:
        command += ["-r", "y"]
    return [*command, str(jobscript)]


def unfinished_jobs_of(jobs: dict, user: str) -> dict:
    """The jobs of ``qstat -f -F json``'s ``Jobs`` that ``user`` owns and that have not finished."""
    return {job_id: job for job_id, job in jobs.items()
            if str(job.get("Job_Owner", "")).split("@")[0] == user and job.get("job_state") not in FINISHED_STATES}


def my_jobs_in(queue: Queue, user: str, run=subprocess.run) -> int | None:
    """How many of ``user``'s jobs are queued or running in ``queue`` (or the queues it routes to); None when
    qstat cannot say."""
    proc = run(["qstat", "-f", "-F", "json"], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    names = {queue.name, *(route.name for route in queue.routes)}
    return sum(1 for job in unfinished_jobs_of(_qstat_jobs(proc.stdout), user).values() if job.get("queue") in names)


def wait_for_room(queue: Queue, environ=os.environ, run=subprocess.run, sleep=time.sleep) -> None:
    """Block while ``queue`` holds its per-user limit (``max_queued``) of this user's jobs: qsub would refuse one
    more. Training jobs are held back by Snakemake itself (the workflow's queue resources); this covers every
    other job, such as the profiles' data-preparation groups. Polls every ``JETSCALE_PBS_POLL_S`` s (60)."""
    if not queue.max_queued:
        return
    poll_s = float(environ.get("JETSCALE_PBS_POLL_S", 60))
    user = getpass.getuser()
    while (held := my_jobs_in(queue, user, run)) is not None and held >= queue.max_queued:
        print(f"jetscale pbs submit: queue {queue.name} holds {held} of your jobs, its limit of {queue.max_queued} "
              f"per user; asking again in {poll_s:.0f} s", file=sys.stderr, flush=True)
        sleep(poll_s)


def submit(jobscript: str | Path, facility: Facility, environ=os.environ, workdir: Path | None = None,
           run=subprocess.run) -> str:
    """Check the job against the facility's queues, wait for room in a queue with a per-user limit, qsub it,
    return the PBS job id."""
    properties = job_properties(Path(jobscript).read_text())
    request = job_request(properties, facility, environ)
    queue = check_request(request, facility)
    wait_for_room(queue, environ, run)
    workdir = Path.cwd() if workdir is None else workdir
    command = qsub_command(jobscript, facility, request, queue, workdir, environ)
    (workdir / facility.log_dir).mkdir(parents=True, exist_ok=True)
    proc = run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PBSError(f"qsub refused job {request.name} (exit {proc.returncode}): {proc.stderr.strip()}")
    job_id = proc.stdout.strip().splitlines()[0].strip() if proc.stdout.strip() else ""
    if not job_id:
        raise PBSError(f"qsub printed no job id for {request.name}")
    return job_id


# --------------------------------------------------------------------------- status, cancel


def _qstat_jobs(text: str) -> dict:
    """``Jobs`` of ``qstat -F json``; some PBS Pro versions write invalid escapes, so fall back to the fields."""
    try:
        return json.loads(text, strict=False).get("Jobs") or {}
    except json.JSONDecodeError:
        state = re.search(r'"job_state"\s*:\s*"(\w)"', text)
        status = re.search(r'"Exit_status"\s*:\s*(-?\d+)', text)
        if not state:
            return {}
        job = {"job_state": state.group(1)}
        if status:
            job["Exit_status"] = int(status.group(1))
        return {"?": job}


def status_from_qstat(text: str, job_id: str) -> str:
    """running | success | failed from the output of ``qstat -xf -F json <job_id>``."""
    jobs = _qstat_jobs(text)
    job = jobs.get(job_id)
    if job is None:  # qstat may print a longer or shorter form of the id: match on the sequence number
        seq = job_id.split(".")[0]
        matches = [j for key, j in jobs.items() if key.split(".")[0] == seq or key == "?"]
        job = matches[0] if len(matches) == 1 else None
    if job is None:
        return "failed"  # qstat answered, but not about this job
    if job.get("job_state") in FINISHED_STATES:
        try:
            return "success" if int(job.get("Exit_status")) == 0 else "failed"
        except (TypeError, ValueError):
            return "failed"  # finished without an exit status: deleted before it ran
    return "running"


def status(job_id: str, run=subprocess.run) -> str:
    proc = run(["qstat", "-xf", "-F", "json", job_id], capture_output=True, text=True)
    if proc.returncode == 0:
        return status_from_qstat(proc.stdout, job_id)
    if proc.returncode == UNKNOWN_JOB_EXIT or "unknown job id" in proc.stderr.lower():
        return "failed"  # purged from the history or never known: it will not finish any more
    print(f"jetscale pbs status: qstat exit {proc.returncode} for {job_id}: {proc.stderr.strip()}; "
          "taken as running, asking again at the next poll", file=sys.stderr)
    return "running"


def cancel(job_ids: list[str], run=subprocess.run) -> int:
    return run(["qdel", *job_ids]).returncode


# --------------------------------------------------------------------------- per-user limits, live queues


def jobs_cap(facility: Facility, queue_names) -> tuple[int, str] | None:
    """The most jobs one user may have queued or running at once in any of ``queue_names`` (and that queue's
    name), where such a limit exists; Snakemake's ``--jobs`` must not exceed it (the workflow caps it)."""
    limits = [(q.max_queued, q.name) for q in map(facility.queue, sorted(set(queue_names))) if q.max_queued]
    return min(limits) if limits else None


USER_LIMIT = re.compile(r"\[u:PBS_GENERIC=(\d+)\]")


def _server_limits(raw: dict) -> dict:
    """One queue of ``qstat -Qf -F json`` as this module's terms: nodes, walltime, max_queued, max_running."""
    def resource(kind: str, name: str):
        value = (raw.get(f"resources_{kind}") or {}).get(name)
        return value if value not in (None, "") else None

    nodes = [resource(kind, "nodect") or resource(kind, "nodes") for kind in ("min", "max")]
    walltime = [resource(kind, "walltime") for kind in ("min", "max")]
    limits = {key: USER_LIMIT.search(str(raw.get(field, ""))) for key, field in
              (("max_queued", "max_queued"), ("max_running", "max_run"))}
    return {"nodes": [int(n) if n is not None else None for n in nodes],
            "walltime": [parse_walltime(w) if w else None for w in walltime],
            **{key: int(m.group(1)) if m else None for key, m in limits.items()}}


def live_differences(facility: Facility, qstat_json: str) -> list[str]:
    """How ``facility``'s queue table differs from the server's (``qstat -Qf -F json``): one line per difference.
    A value the server does not state is not compared."""
    try:
        server = json.loads(qstat_json, strict=False).get("Queue") or {}
    except json.JSONDecodeError as err:
        raise PBSError(f"cannot read qstat -Qf's JSON: {err}") from None
    lines = []
    for queue in facility.queues.values():
        if queue.name not in server:
            lines.append(f"{queue.name}: in {facility.source}, unknown to the PBS server")
            continue
        live = _server_limits(server[queue.name])
        ours = {"nodes": list(queue.nodes), "walltime": list(queue.walltime), "max_queued": queue.max_queued,
                "max_running": queue.max_running}
        for key, value in ours.items():
            theirs = live[key]
            if isinstance(value, list):
                for bound, mine, actual in zip(("min", "max"), value, theirs):
                    if actual is not None and actual != mine:
                        show = format_walltime if key == "walltime" else str
                        lines.append(f"{queue.name}: {bound} {key} {show(mine)} in {facility.source}, "
                                     f"{show(actual)} on the server")
            elif theirs is not None and theirs != value:
                lines.append(f"{queue.name}: {key} {value} in {facility.source}, {theirs} per user on the server")
    return lines


def check_live(facility: Facility, run=subprocess.run) -> list[str]:
    try:
        proc = run(["qstat", "-Qf", "-F", "json"], capture_output=True, text=True)
    except FileNotFoundError:
        raise PBSError(f"no qstat here: --live asks the PBS server from a login node of {facility.name}") from None
    if proc.returncode != 0:
        raise PBSError(f"qstat -Qf failed (exit {proc.returncode}): {proc.stderr.strip()}; is this a login node of "
                       f"{facility.name}?")
    return live_differences(facility, proc.stdout)


# --------------------------------------------------------------------------- command line


def cmd_submit(args: argparse.Namespace) -> int:
    print(submit(args.jobscript, load_facility(args.facility)))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    print(status(args.job_id))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    return cancel(args.job_ids)


def cmd_queues(args: argparse.Namespace) -> int:
    facility = load_facility(args.facility)
    print(f"{facility.name}: queues of {facility.source} (default {facility.default_queue})")
    for queue in facility.queues.values():
        routes = f"; routes to {', '.join(r.describe() for r in queue.routes)}" if queue.routes else ""
        running = f", {queue.max_running} running" if queue.max_running else ""
        print(f"  {queue.describe()}{running}{routes}")
    if not args.live:
        return 0
    differences = check_live(facility)
    for line in differences:
        print(f"differs: {line}")
    print(f"{len(differences)} difference(s) from the PBS server" if differences
          else "the PBS server agrees with every limit it states")
    return 1 if differences else 0


def add_commands(sub) -> None:
    """``submit``, ``status``, ``cancel`` under ``sub`` (``jetscale pbs`` or ``python -m jetscale.cluster.pbs``)."""
    p = sub.add_parser("submit", help="check a Snakemake job script's resources against the queues, qsub it, "
                                      "print the job id")
    p.add_argument("--facility", required=True,
                   help="polaris, aurora (profiles/<name>/facility.yaml) or a path to a facility .yaml")
    p.add_argument("jobscript", help="the job script Snakemake wrote (it carries the job's resources)")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("status", help="print running, success or failed for a PBS job id (qstat -xf -F json)")
    p.add_argument("job_id")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("queues", help="print the facility's queue table; --live: compare it with qstat -Qf")
    p.add_argument("--facility", required=True, help="polaris, aurora, or a path to a facility .yaml")
    p.add_argument("--live", action="store_true",
                   help="ask the PBS server (qstat -Qf -F json) and list every limit that differs (exit 1)")
    p.set_defaults(func=cmd_queues)

    p = sub.add_parser("cancel", help="qdel the given PBS job ids")
    p.add_argument("job_ids", nargs="+")
    p.set_defaults(func=cmd_cancel)


def register(sub) -> None:
    """Add ``jetscale pbs submit|status|cancel`` to ``jetscale``'s subparsers."""
    p = sub.add_parser("pbs", help="PBS Pro (ALCF Polaris, Aurora): submit, status, cancel for Snakemake",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_commands(p.add_subparsers(dest="pbs_command", required=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jetscale.cluster.pbs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_commands(parser.add_subparsers(dest="pbs_command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:  # as jetscale.cli: one clear line, exit 2
        print(f"jetscale pbs {args.pbs_command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
