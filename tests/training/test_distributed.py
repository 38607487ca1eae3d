"""One `jetscale train` command under every local launcher: Lightning's own DDP processes, torchrun and
mpiexec give the single-process metrics (same global batch), and rank 0 alone writes them."""

import json
import shutil
import subprocess

import pytest

from jetscale.train import train

from conftest import BIN

POINT = ["task=toy_sgd", "n_samples=64", "width=32", "data.batch_size=16", "data.source.latent_dim=200",
         "trainer.max_steps=40"]
LAUNCHERS = {
    "lightning": ([], ["trainer.devices=2", "trainer.strategy=ddp"]),
    # Aurora's DDP strategy (jetscale.xpu) on CPU devices: its code path over gloo, as the XPU one over xccl
    "lightning-ddp_xpu": ([], ["trainer.devices=2", "trainer.strategy=ddp_xpu"]),
    "torchrun": ([str(BIN / "torchrun"), "--standalone", "--nproc-per-node=2", "--no-python"], []),
    "mpiexec": ([str(BIN / "mpiexec"), "-n", "2"], []),
}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    from hydra import compose, initialize_config_dir

    from jetscale.paths import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=POINT)
    return train(cfg, tmp_path_factory.mktemp("single") / "point")


def slurm_is_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    return state.returncode == 0 and any(s in state.stdout for s in ("idle", "mix"))


def run_two_ranks(prefix, extra, run_dir, env):
    cmd = [*prefix, str(BIN / "jetscale"), "train", *POINT, *extra, f"hydra.run.dir={run_dir}"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def assert_matches_one_process(done, run_dir, one_process, launcher):
    assert done.returncode == 0, done.stdout + done.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["launcher"] == ("none" if launcher.startswith("lightning") else launcher)
    for key in ("steps", "flops", "epochs"):
        assert metrics[key] == one_process[key], key
    assert metrics["test_loss"] == pytest.approx(one_process["test_loss"], rel=1e-5)
    assert [p.name for p in run_dir.rglob("metrics*.json")] == ["metrics.json"]
    assert done.stdout.count("test_loss=") + done.stderr.count("test_loss=") == 1  # rank 0 alone evaluated


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_two_ranks_match_one_process_and_write_one_metrics_file(launcher, one_process, tmp_path, cli_env):
    prefix, extra = LAUNCHERS[launcher]
    done = run_two_ranks(prefix, extra, tmp_path / "point", cli_env)
    assert_matches_one_process(done, tmp_path / "point", one_process, launcher)


@pytest.mark.slurm
@pytest.mark.skipif(not slurm_is_up(), reason="no local Slurm (tests/cluster/start_slurm.sh starts one, as root)")
def test_srun_two_tasks_match_one_process(one_process, tmp_path, cli_env):
    done = run_two_ranks(["srun", "--nodes=1", "--ntasks-per-node=2", f"--chdir={tmp_path}"], [], tmp_path / "point",
                         cli_env)
    assert_matches_one_process(done, tmp_path / "point", one_process, "srun")


def test_contradicting_devices_under_mpiexec_is_an_error_not_a_hang(tmp_path, cli_env):
    cmd = [str(BIN / "mpiexec"), "-n", "2", str(BIN / "jetscale"), "train", *POINT, "trainer.devices=1",
           f"hydra.run.dir={tmp_path / 'point'}"]
    done = subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "trainer.devices=1 contradicts mpiexec" in done.stderr + done.stdout
    assert "Set trainer.devices=2 trainer.num_nodes=1" in done.stderr + done.stdout
    assert not (tmp_path / "point" / "metrics.json").exists()
