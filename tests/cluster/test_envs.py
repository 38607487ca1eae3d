"""The facility environments (envs/*.sh), sourced with stand-ins for the sites' `module` and `conda`: what they
export on a login node and inside a job, and that a failed step returns 1 (a PBS job then stops at once)."""

import subprocess

import pytest

from conftest import REPO

STUBS = 'module() { [ "$2" != "$FAIL_MODULE" ]; }; conda() { :; }; export -f module conda 2>/dev/null; '


def sourced(name: str, tmp_path, job: bool, fail_module: str = "none") -> subprocess.CompletedProcess:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    (venv / "bin" / "activate").write_text("export VENV_ACTIVE=1\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "JETSCALE_VENV": str(venv), "FAIL_MODULE": fail_module}
    if job:
        env["PBS_JOBID"] = "1.pbs"
    script = f'{STUBS} source {REPO / "envs" / name}.sh || exit 7; env'
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)


def exported(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


@pytest.mark.parametrize("name, profile", [("polaris", "polaris"), ("aurora", "aurora"), ("perlmutter", "slurm")])
def test_each_environment_names_its_profile_and_activates_the_venv(name, profile, tmp_path):
    env = exported(sourced(name, tmp_path, job=False))
    assert env["JETSCALE_PROFILE"] == profile and env["VENV_ACTIVE"] == "1"
    assert (REPO / "profiles" / profile / "config.yaml").is_file()


def test_polaris_jobs_put_local_rank_r_on_gpu_3_minus_r_with_alcfs_nccl_settings(tmp_path):
    login = exported(sourced("polaris", tmp_path, job=False))
    assert "CUDA_VISIBLE_DEVICES" not in login and "NCCL_NET" not in login
    job = exported(sourced("polaris", tmp_path, job=True))
    order = job["CUDA_VISIBLE_DEVICES"].split(",")
    assert [order[local_rank] for local_rank in range(4)] == ["3", "2", "1", "0"]  # cuda:<r> is GPU 3 - r
    assert (job["NCCL_NET_GDR_LEVEL"], job["NCCL_CROSS_NIC"], job["NCCL_COLLNET_ENABLE"]) == ("PHB", "1", "1")
    assert job["NCCL_NET"] == "AWS Libfabric" and "aws-ofi-nccl" in job["LD_LIBRARY_PATH"]


def test_aurora_jobs_see_each_tile_as_a_device_with_onecc_settings(tmp_path):
    job = exported(sourced("aurora", tmp_path, job=True))
    assert job["ZE_FLAT_DEVICE_HIERARCHY"] == "FLAT"
    assert (job["CCL_PROCESS_LAUNCHER"], job["CCL_ATL_TRANSPORT"], job["CCL_KVS_MODE"]) == ("pmix", "mpi", "mpi")


@pytest.mark.parametrize("name, module", [("polaris", "conda"), ("aurora", "frameworks"), ("perlmutter", "pytorch")])
def test_a_failed_module_load_or_a_missing_venv_returns_1(name, module, tmp_path):
    failed = sourced(name, tmp_path, job=True, fail_module=module)
    assert failed.returncode == 7 and f"module load {module} failed" in failed.stderr
    (tmp_path / "venv" / "bin" / "activate").unlink()
    missing = subprocess.run(["bash", "-c", f'{STUBS} source {REPO / "envs" / name}.sh || exit 7'],
                             env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "FAIL_MODULE": "none",
                                  "JETSCALE_VENV": str(tmp_path / "venv")}, capture_output=True, text=True)
    assert missing.returncode == 7 and "no venv at" in missing.stderr
