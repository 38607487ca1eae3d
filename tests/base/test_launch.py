"""Launcher detection and the Trainer layout derived from it (pure functions of the environment)."""

import pytest

from jetscale.launch import Launch, LaunchError, MPIEnvironment, detect_launch, trainer_settings


def test_no_launcher_is_one_process():
    assert detect_launch({}) == Launch()
    assert not Launch().external


def test_torchrun_layout():
    env = {"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4", "RANK": "5"}
    assert detect_launch(env) == Launch("torchrun", 8, 4, 2)


def test_srun_step_layout_and_the_batch_script_is_not_a_step():
    step = {"SLURM_STEP_ID": "0", "SLURM_PROCID": "3", "SLURM_STEP_NUM_TASKS": "8", "SLURM_STEP_TASKS_PER_NODE": "4(x2)",
            "SLURM_NTASKS": "8"}
    assert detect_launch(step) == Launch("srun", 8, 4, 2)
    batch_script = {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "8", "SLURM_PROCID": "0"}
    assert detect_launch(batch_script) == Launch()


def test_mpiexec_inside_a_slurm_allocation_is_mpiexec():
    env = {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "8", "SLURM_PROCID": "0", "PMI_SIZE": "8", "PMI_RANK": "2",
           "MPI_LOCALNRANKS": "4"}
    assert detect_launch(env) == Launch("mpiexec", 8, 4, 2)


def test_mpiexec_without_local_size_asks_mpi():
    env = {"OMPI_COMM_WORLD_SIZE": "12", "OMPI_COMM_WORLD_RANK": "0"}
    assert detect_launch(env, mpi_local_size=lambda: (12, 6)) == Launch("mpiexec", 12, 6, 2)


def test_single_rank_mpiexec_is_one_process():
    assert detect_launch({"PMI_SIZE": "1", "PMI_RANK": "0", "MPI_LOCALNRANKS": "1"}) == Launch()


def test_uneven_hosts_are_refused():
    with pytest.raises(LaunchError, match="same number of ranks on every host"):
        detect_launch({"PMI_SIZE": "6", "PMI_RANK": "0", "MPI_LOCALNRANKS": "4"})
    with pytest.raises(LaunchError, match="--ntasks-per-node"):
        detect_launch({"SLURM_STEP_ID": "0", "SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "6",
                       "SLURM_STEP_TASKS_PER_NODE": "4,2"})


def test_auto_takes_the_launchers_layout():
    settings = trainer_settings("auto", "auto", Launch("mpiexec", 8, 4, 2))
    assert (settings["devices"], settings["num_nodes"]) == (4, 2)
    assert isinstance(settings["plugins"][0], MPIEnvironment)
    assert trainer_settings(4, 2, Launch("mpiexec", 8, 4, 2))["devices"] == 4  # agreeing explicit values


@pytest.mark.parametrize("devices, num_nodes, wrong", [(1, "auto", "trainer.devices=1"), ("auto", 1, "trainer.num_nodes=1")])
def test_contradiction_names_what_to_set(devices, num_nodes, wrong):
    with pytest.raises(LaunchError) as err:
        trainer_settings(devices, num_nodes, Launch("srun", 8, 4, 2))
    assert wrong in str(err.value) and "trainer.devices=4 trainer.num_nodes=2" in str(err.value)


def test_without_a_launcher_devices_pass_through_and_nodes_need_one():
    settings = trainer_settings(2, "auto", Launch())
    assert (settings["devices"], settings["num_nodes"]) == (2, 1)
    assert type(settings["plugins"][0]).__name__ == "LightningEnvironment"
    with pytest.raises(LaunchError, match="needs a launcher"):
        trainer_settings(1, 2, Launch())


def test_job_script_master_address_wins(monkeypatch):
    class OneRank:  # stands in for MPI.COMM_WORLD: bcast from root 0 returns root's value
        def bcast(self, value, root):
            return value

    environment = MPIEnvironment.__new__(MPIEnvironment)
    environment._comm_world = OneRank()
    monkeypatch.setenv("MASTER_ADDR", "x3004c0s13b0n0")
    monkeypatch.setenv("MASTER_PORT", "29411")
    assert (environment._get_main_address(), environment._get_main_port()) == ("x3004c0s13b0n0", 29411)
    monkeypatch.delenv("MASTER_ADDR")
    monkeypatch.delenv("MASTER_PORT")
    assert environment._get_main_address() and 0 < environment._get_main_port() < 65536
