"""Intel GPUs (Aurora): the XPU accelerator and DDP strategy of jetscale.xpu and the device choice of
jetscale.devices, tested everywhere but on an XPU (no test here runs a tile; tests/training/test_distributed.py runs the
strategy's code path with two CPU processes over gloo)."""

from types import SimpleNamespace

import pytest
import torch
from lightning.fabric.plugins.environments import ClusterEnvironment
from lightning.pytorch.accelerators import AcceleratorRegistry
from lightning.pytorch.strategies import SingleDeviceStrategy, StrategyRegistry
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from jetscale import xpu
from jetscale.devices import Visible, device_settings, idle_devices_error
from jetscale.launch import LaunchError
from jetscale.xpu import XPUAccelerator, XPUDDPStrategy, parse_xpu_ids, register


def trainer_cfg(accelerator="xpu", devices="auto", strategy="auto"):
    return SimpleNamespace(accelerator=accelerator, devices=devices, strategy=strategy)


def test_register_makes_the_names_known_to_lightning_once():
    register()
    register()
    assert AcceleratorRegistry["xpu"]["accelerator"] is XPUAccelerator
    assert StrategyRegistry["ddp_xpu"]["strategy"] is XPUDDPStrategy


@pytest.mark.parametrize("devices, ids", [("auto", list(range(12))), (-1, list(range(12))), ("-1", list(range(12))),
                                          (2, [0, 1]), ("3", [0, 1, 2]), ([0, 5], [0, 5]), ("0,11", [0, 11]),
                                          ("[2, 4]", [2, 4])])
def test_device_parsing(devices, ids):
    assert parse_xpu_ids(devices, available=12) == ids


@pytest.mark.parametrize("devices, says", [(13, "13 XPUs requested, 12 visible"), ([0, 12], "0..11"),
                                           ([1, 1], "once"), (0, "at least one"), ("tiles", "expected auto"),
                                           (True, "expected auto")])
def test_device_parsing_refuses_what_does_not_exist(devices, says):
    with pytest.raises(MisconfigurationException, match=says):
        parse_xpu_ids(devices, available=12)


def test_backend_follows_the_device_xccl_on_xpu_gloo_on_cpu():
    assert XPUDDPStrategy(parallel_devices=[torch.device("xpu", 0)])._get_process_group_backend() == "xccl"
    assert XPUDDPStrategy(parallel_devices=[torch.device("cpu")])._get_process_group_backend() == "gloo"


def test_ddp_model_is_wrapped_under_an_xpu_stream_never_a_cuda_one(monkeypatch):
    import torch.nn.parallel.distributed as distributed

    entered, wrapped = [], []

    class Stream:
        pass

    class StreamContext:
        def __init__(self, stream):
            self.stream = stream

        def __enter__(self):
            entered.append(self.stream)

        def __exit__(self, *exc):
            return False

    def no_cuda(*args, **kwargs):
        raise AssertionError("torch.cuda.stream on an XPU run")

    monkeypatch.setattr(torch.xpu, "Stream", Stream)
    monkeypatch.setattr(torch.xpu, "stream", StreamContext)
    monkeypatch.setattr(torch.cuda, "stream", no_cuda)
    monkeypatch.setattr(distributed, "DistributedDataParallel",
                        lambda module, device_ids, **kwargs: wrapped.append(device_ids) or module)
    strategy = XPUDDPStrategy(parallel_devices=[torch.device("xpu", 0), torch.device("xpu", 1)])
    model = torch.nn.Linear(2, 1)
    assert strategy._setup_model(model) is model
    assert wrapped == [[0]] and len(entered) == 1 and isinstance(entered[0], Stream)

    cpu = XPUDDPStrategy(parallel_devices=[torch.device("cpu")] * 2)
    cpu._setup_model(model)
    assert wrapped[-1] is None and len(entered) == 1  # CPU devices: no stream at all


class Ranks(ClusterEnvironment):
    """A cluster environment as mpiexec gives it: 12 ranks on one node, this process local rank ``local``."""

    def __init__(self, world: int, local: int):
        super().__init__()
        self.world, self.local = world, local

    creates_processes_externally = True
    main_address, main_port = "localhost", 29500

    def world_size(self):
        return self.world

    def global_rank(self):
        return self.local

    def local_rank(self):
        return self.local

    def node_rank(self):
        return 0

    def set_world_size(self, size):
        pass

    def set_global_rank(self, rank):
        pass

    @staticmethod
    def detect():
        return True


@pytest.fixture
def twelve_tiles(monkeypatch):
    """Twelve fake tiles; a Trainer built on them with ``Ranks(local=5)`` sets Lightning's process-wide rank to 5,
    which would silence every logger of the trainings that later tests run in this process: restored after."""
    from lightning.fabric.utilities import rank_zero as fabric_rank_zero
    from lightning.pytorch.utilities import rank_zero as pytorch_rank_zero

    for module in (fabric_rank_zero, pytorch_rank_zero):
        monkeypatch.setattr(module.rank_zero_only, "rank", getattr(module.rank_zero_only, "rank", 0))
    monkeypatch.setattr(xpu, "xpu_count", lambda: 12)
    return Visible(xpu=12)


def test_one_rank_per_tile_rank_r_on_xpu_r(twelve_tiles, tmp_path):
    import lightning as L

    layout = {"devices": 12, "num_nodes": 1}
    settings = device_settings(trainer_cfg(devices=12), layout, twelve_tiles, environ={})
    assert settings == {"accelerator": "xpu", "strategy": "ddp_xpu", "devices": 12}
    trainer = L.Trainer(**{**layout, **settings}, plugins=[Ranks(world=12, local=5)],
                        default_root_dir=tmp_path, logger=False)
    assert isinstance(trainer.strategy, XPUDDPStrategy) and isinstance(trainer.accelerator, XPUAccelerator)
    assert trainer.strategy.root_device == torch.device("xpu", 5)
    assert trainer.strategy._get_process_group_backend() == "xccl"


def test_one_process_takes_one_tile_and_the_listed_one(twelve_tiles, tmp_path):
    import lightning as L

    alone = device_settings(trainer_cfg(), {"devices": "auto", "num_nodes": 1}, twelve_tiles, environ={})
    assert isinstance(alone["strategy"], SingleDeviceStrategy) and alone["devices"] == 1
    assert alone["strategy"].root_device == torch.device("xpu", 0)
    listed = device_settings(trainer_cfg(devices=[7]), {"devices": [7], "num_nodes": 1}, twelve_tiles, environ={})
    trainer = L.Trainer(**{**listed, "num_nodes": 1}, default_root_dir=tmp_path, logger=False)
    assert trainer.strategy.root_device == torch.device("xpu", 7)


def test_auto_means_xpu_where_only_tiles_exist_and_ddp_becomes_ddp_xpu(twelve_tiles):
    layout = {"devices": 2, "num_nodes": 1}
    assert device_settings(trainer_cfg("auto", 2, "ddp"), layout, twelve_tiles, environ={})["strategy"] == "ddp_xpu"
    assert device_settings(trainer_cfg("auto"), layout, Visible(cuda=4, xpu=0), environ={}) == {"devices": 2}


def test_xpu_without_tiles_is_refused_with_what_to_load():
    with pytest.raises(LaunchError, match="sees no XPU device.*module load frameworks"):
        device_settings(trainer_cfg(), {"devices": "auto", "num_nodes": 1}, Visible(), environ={})


@pytest.mark.parametrize("visible, setting", [(Visible(cuda=4), "gpu"), (Visible(xpu=12), "xpu")])
def test_a_cluster_job_with_gpus_does_not_train_on_cpu(visible, setting):
    job = {"PBS_JOBID": "123.aurora-pbs"}
    with pytest.raises(LaunchError, match=f"PBS job 123.aurora-pbs sees .* Set trainer.accelerator={setting} "):
        device_settings(trainer_cfg("cpu"), {"devices": "auto", "num_nodes": 1}, visible, environ=job)
    assert device_settings(trainer_cfg("cpu"), {"devices": "auto", "num_nodes": 1}, Visible(cuda=4), environ=job,
                           allow_idle=True) == {"devices": 1}


def test_cpu_training_is_fine_outside_a_job_or_without_gpus():
    assert idle_devices_error("cpu", Visible(cuda=1), environ={}) is None  # a workstation with a GPU
    assert idle_devices_error("cpu", Visible(), environ={"SLURM_JOB_ID": "7"}) is None  # a CPU node
    assert idle_devices_error("gpu", Visible(cuda=4), environ={"SLURM_JOB_ID": "7"}) is None
    assert "Slurm job 7" in idle_devices_error("cpu", Visible(cuda=4), environ={"SLURM_JOB_ID": "7"})


def test_a_packed_bundle_in_a_job_with_gpus_stops_before_training(monkeypatch):
    """Packs train on the CPU: given GPUs, they stop as a single point would, naming both ways out."""
    from omegaconf import OmegaConf

    from jetscale import devices
    from jetscale.packed import refuse_idle_gpus

    monkeypatch.setattr(devices, "visible_devices", lambda: Visible(cuda=4))
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    with pytest.raises(ValueError, match="packed bundle trains on the CPU: Slurm job 42 sees 4 NVIDIA.*bundle_pack"):
        refuse_idle_gpus(OmegaConf.create({"allow_idle_accelerators": False}))
    refuse_idle_gpus(OmegaConf.create({"allow_idle_accelerators": True}))
    monkeypatch.delenv("SLURM_JOB_ID")
    refuse_idle_gpus(OmegaConf.create({"allow_idle_accelerators": False}))
