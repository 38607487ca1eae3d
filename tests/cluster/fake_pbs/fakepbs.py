"""A fake PBS Pro (qsub, qstat, qdel) on one machine, for the tests of the PBS profiles.

Put this directory first on PATH and set FAKE_PBS_DIR to an empty directory, the job table:

    FAKE_PBS_DIR/qsub.log            every qsub command line, one per line (shell-quoted), accepted or not
    FAKE_PBS_DIR/jobs/<seq>/job.json  one job: id, name, argv, queue, account, resources, variables,
                                      state (Q, R, F), exit_status, output path, times
    FAKE_PBS_DIR/jobs/<seq>/script    the job script as submitted (PBS keeps its own copy too)

``qsub`` checks what ALCF's qsub insists on (-A, -l select, walltime, filesystems), prints the job
id (``<seq>.fakepbs``) and runs the script in the background like a PBS mom: in $HOME, with a
login-like environment (PATH=/usr/bin:/bin, no variables of the submitting shell) plus the
``-v`` variables and PBS_JOBID, PBS_JOBNAME, PBS_NODEFILE (this host, once per node),
PBS_O_WORKDIR, PBS_QUEUE, TMPDIR; output to ``-o`` (``-j oe``).  The job is killed at its
walltime (SIGTERM, 10 s later SIGKILL).  ``qstat -xf -F json [ID...]`` answers in PBS Pro's JSON
(job_state Q/R/F, Exit_status once finished; every job when no id is given); ``qstat -Qf -F json``
prints the file $FAKE_PBS_QUEUES (the server's queues); an unknown id gets ``qstat: Unknown Job Id ID``
and exit status 153.  ``qdel`` sends SIGTERM to the running job (Exit_status 271).

Misbehaving jobs, chosen at submission by glob patterns on the job name (-N):
    FAKE_PBS_FAIL=<glob>     the job does not run and finishes with Exit_status 1 (a node failure)
    FAKE_PBS_VANISH=<glob>   qsub prints an id, then qstat never knows it (a purged job history)

Only the standard library: the executables run under any python3.
"""

from __future__ import annotations

import fcntl
import fnmatch
import getpass
import getopt
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

SERVER = "fakepbs"
UNKNOWN_JOB_EXIT = 153  # PBSE_UNKJOBID
FINISHED_EXIT = 35  # PBSE_HISTJOBID: asked without -x about a finished job
DELETED_STATUS = 271  # 256 + SIGTERM, what PBS Pro reports for a deleted or walltime-killed job
KILL_DELAY_S = 10
QSUB_OPTIONS = "A:a:c:e:hIJ:j:k:l:M:m:N:o:P:p:q:r:S:u:v:VW:z"


def table_dir() -> Path:
    if not os.environ.get("FAKE_PBS_DIR"):
        sys.exit("fake PBS: set FAKE_PBS_DIR to the job table directory")
    path = Path(os.environ["FAKE_PBS_DIR"])
    (path / "jobs").mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, record: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def update(jobdir: Path, **changes) -> dict:
    with locked(jobdir / "lock"):
        record = json.loads((jobdir / "job.json").read_text())
        record.update(changes)
        _write(jobdir / "job.json", record)
    return record


def read_table(directory: str | Path) -> list[dict]:
    """Every job qsub accepted, in submission order (for tests)."""
    jobs = Path(directory) / "jobs"
    records = [json.loads(p.read_text()) for p in jobs.glob("*/job.json")] if jobs.is_dir() else []
    return sorted(records, key=lambda r: r["seq"])


def qsub_lines(directory: str | Path) -> list[str]:
    """Every qsub command line, accepted or not (for tests)."""
    log = Path(directory) / "qsub.log"
    return log.read_text().splitlines() if log.exists() else []


# --------------------------------------------------------------------------- qsub


def _resources(values: list[str]) -> dict[str, str]:
    """``-l select=2:system=polaris -l walltime=01:00:00,place=scatter`` -> {select: ..., walltime: ..., place: ...}."""
    resources = {}
    for value in values:
        for item in value.split(","):
            key, _, val = item.partition("=")
            resources[key] = val
    return resources


def _variables(values: list[str]) -> dict[str, str]:
    variables = {}
    for value in values:
        for item in value.split(","):
            key, sep, val = item.partition("=")
            variables[key] = val if sep else os.environ.get(key, "")
    return variables


def _walltime_s(text: str) -> int:
    seconds = 0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def _matches(name: str, variable: str) -> bool:
    patterns = [p for p in os.environ.get(variable, "").split(",") if p]
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def qsub(argv: list[str]) -> int:
    table = table_dir()
    with locked(table / "qsub.lock"):
        with open(table / "qsub.log", "a") as log:
            log.write(shlex.join(["qsub", *argv]) + "\n")
    try:
        opts, args = getopt.getopt(argv, QSUB_OPTIONS)
    except getopt.GetoptError as err:
        print(f"qsub: {err}", file=sys.stderr)
        return 2
    if len(args) != 1 or not Path(args[0]).is_file():
        print("usage: qsub [options] script", file=sys.stderr)
        return 2
    options: dict[str, list[str]] = {}
    for flag, value in opts:
        options.setdefault(flag, []).append(value)
    resources = _resources(options.get("-l", []))
    for needed, message in (("-A", "a project is required (-A <project>)"),):
        if needed not in options:
            print(f"qsub: {message}", file=sys.stderr)
            return 1
    for key in ("select", "walltime", "filesystems"):
        if key not in resources:
            print(f"qsub: Request rejected by server: -l {key}=... is required", file=sys.stderr)
            return 1
    nodes = int(resources["select"].split(":")[0])
    script = Path(args[0])
    name = options.get("-N", [script.name])[-1]

    with locked(table / "seq.lock"):
        seq = len(list((table / "jobs").iterdir())) + 1
        jobdir = table / "jobs" / str(seq)
        jobdir.mkdir()
    job_id = f"{seq}.{SERVER}"
    submit_dir = os.getcwd()
    output = options.get("-o", [f"{submit_dir}/{name}.o{seq}"])[-1]
    (jobdir / "script").write_bytes(script.read_bytes())
    (jobdir / "script").chmod(0o755)
    (jobdir / "nodefile").write_text((socket.gethostname() + "\n") * nodes)
    behaviour = "fail" if _matches(name, "FAKE_PBS_FAIL") else "vanish" if _matches(name, "FAKE_PBS_VANISH") else "run"
    record = {
        "seq": seq, "id": job_id, "name": name, "argv": ["qsub", *argv], "queue": options.get("-q", ["workq"])[-1],
        "account": options["-A"][-1], "resources": resources, "nodes": nodes,
        "variables": _variables(options.get("-v", [])), "export_all": "-V" in options,
        "join": options.get("-j", ["n"])[-1], "output": output, "error": options.get("-e", [output + ".e"])[-1],
        "submit_dir": submit_dir, "behaviour": behaviour, "state": "Q", "exit_status": None,
        "ctime": time.time(), "stime": None, "obittime": None, "pgid": None, "deleted": False,
    }
    _write(jobdir / "job.json", record)
    if behaviour == "vanish":
        print(job_id)
        return 0
    subprocess.Popen([sys.executable, os.path.abspath(__file__), "_run", str(jobdir)], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
    print(job_id)
    return 0


def job_environment(record: dict, jobdir: Path) -> dict[str, str]:
    """A batch job's environment: nothing of the submitting shell except what -v (or -V) passes."""
    env = {k: os.environ[k] for k in ("HOME", "USER", "LOGNAME", "LANG", "TZ") if k in os.environ}
    if record["export_all"]:
        env.update(os.environ)
    tmp = jobdir / "tmp"
    tmp.mkdir(exist_ok=True)
    env.update({
        "PATH": "/usr/local/bin:/usr/bin:/bin", "SHELL": "/bin/bash", "TMPDIR": str(tmp),
        "PBS_JOBID": record["id"], "PBS_JOBNAME": record["name"], "PBS_QUEUE": record["queue"],
        "PBS_NODEFILE": str(jobdir / "nodefile"), "PBS_O_WORKDIR": record["submit_dir"],
        "PBS_O_HOST": socket.gethostname(), "PBS_ENVIRONMENT": "PBS_BATCH", "PBS_ACCOUNT": record["account"],
    })
    env.update(record["variables"])
    return env


def run_job(jobdir: Path) -> None:
    """The background side of qsub: run (or fail) the job, then record how it ended."""
    record = json.loads((jobdir / "job.json").read_text())
    if record["deleted"]:  # qdel before it started
        return
    if record["behaviour"] == "fail":
        Path(record["output"]).write_text(f"fake PBS: {record['name']} failed (FAKE_PBS_FAIL)\n")
        update(jobdir, state="F", exit_status=1, stime=time.time(), obittime=time.time())
        return
    out = open(record["output"], "w")
    err = out if "oe" in record["join"] else open(record["error"], "w")
    cwd = os.environ.get("HOME") or str(jobdir)
    proc = subprocess.Popen([str(jobdir / "script")], cwd=cwd, env=job_environment(record, jobdir), stdout=out,
                            stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    update(jobdir, state="R", stime=time.time(), pgid=proc.pid)
    try:
        returncode = proc.wait(timeout=_walltime_s(record["resources"]["walltime"]))
    except subprocess.TimeoutExpired:  # walltime: SIGTERM, then SIGKILL after the kill delay
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=KILL_DELAY_S)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        returncode = -signal.SIGTERM
    status = 256 - returncode if returncode < 0 else returncode  # killed by signal s: 256 + s
    if json.loads((jobdir / "job.json").read_text())["deleted"]:
        status = DELETED_STATUS
    update(jobdir, state="F", exit_status=status, obittime=time.time())


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------- qstat, qdel


def _find(job_id: str) -> Path | None:
    seq = job_id.split(".")[0]
    jobdir = table_dir() / "jobs" / seq
    if not seq.isdigit() or not (jobdir / "job.json").exists():
        return None
    if json.loads((jobdir / "job.json").read_text())["behaviour"] == "vanish":
        return None
    return jobdir


def _known(command: str, ids: list[str], codes: list[int]):
    """(id, job dir) of each id the table knows; PBS's complaint (and exit status 153) for the others."""
    for job_id in ids:
        jobdir = _find(job_id)
        if jobdir is None:
            print(f"{command}: Unknown Job Id {job_id}", file=sys.stderr)
            codes.append(UNKNOWN_JOB_EXIT)
        else:
            yield job_id, jobdir


def pbs_json(record: dict) -> dict:
    """One job as ``qstat -f -F json`` shows it (the fields the profiles read, and a few more)."""
    job = {
        "Job_Name": record["name"],
        "Job_Owner": f"{getpass.getuser()}@{socket.gethostname()}",  # the submitting user, as PBS records it
        "job_state": record["state"],
        "queue": record["queue"],
        "Account_Name": record["account"],
        "Output_Path": f"{socket.gethostname()}:{record['output']}",
        "Resource_List": {**record["resources"], "nodect": record["nodes"]},
        "Variable_List": {"PBS_O_WORKDIR": record["submit_dir"], **record["variables"]},
        "ctime": time.ctime(record["ctime"]),
    }
    if record["stime"]:
        job["stime"] = time.ctime(record["stime"])
    if record["state"] == "F" and record["exit_status"] is not None:
        job["Exit_status"] = record["exit_status"]
    return job


def qstat(argv: list[str]) -> int:
    try:
        opts, ids = getopt.getopt(argv, "QxfF:")
    except getopt.GetoptError as err:
        print(f"qstat: {err}", file=sys.stderr)
        return 2
    flags = dict(opts)
    if "-Q" in flags:  # the server's queues, from the JSON file FAKE_PBS_QUEUES ({"Queue": {...}})
        if not os.environ.get("FAKE_PBS_QUEUES"):
            print("fake qstat: set FAKE_PBS_QUEUES to a JSON file of the queues", file=sys.stderr)
            return 2
        print(Path(os.environ["FAKE_PBS_QUEUES"]).read_text())
        return 0
    if "-f" not in flags or flags.get("-F") != "json":
        print("fake qstat: only `qstat [-x] -f -F json [JOBID...]` and `qstat -Qf -F json` are implemented",
              file=sys.stderr)
        return 2
    if not ids:  # every job the server knows (finished ones with -x)
        records = [json.loads(p.read_text()) for p in sorted((table_dir() / "jobs").glob("*/job.json"))]
        jobs = {r["id"]: pbs_json(r) for r in records if r["state"] != "F" or "-x" in flags}
        print(json.dumps({"timestamp": int(time.time()), "pbs_version": "2022.1.1 (fake)", "pbs_server": SERVER,
                          "Jobs": jobs}, indent=4))
        return 0
    jobs, codes = {}, []
    for job_id, jobdir in _known("qstat", ids, codes):
        record = json.loads((jobdir / "job.json").read_text())
        if record["state"] == "F" and "-x" not in flags:
            print(f"qstat: {job_id} Job has finished, use -x or -H to obtain historical job information",
                  file=sys.stderr)
            codes.append(FINISHED_EXIT)
            continue
        jobs[record["id"]] = pbs_json(record)
    if jobs:
        print(json.dumps({"timestamp": int(time.time()), "pbs_version": "2022.1.1 (fake)", "pbs_server": SERVER,
                          "Jobs": jobs}, indent=4))
    return codes[-1] if codes else 0


def qdel(argv: list[str]) -> int:
    codes = []
    for job_id, jobdir in _known("qdel", argv, codes):
        record = update(jobdir, deleted=True)
        if record["state"] == "F":
            print(f"qdel: Job has finished {job_id}", file=sys.stderr)
            codes.append(FINISHED_EXIT)
        elif record["pgid"]:
            _signal_group(record["pgid"], signal.SIGTERM)
        else:  # still queued: it never runs
            update(jobdir, state="F", exit_status=DELETED_STATUS, obittime=time.time())
    return codes[-1] if codes else 0


if __name__ == "__main__" and sys.argv[1:2] == ["_run"]:
    run_job(Path(sys.argv[2]))
