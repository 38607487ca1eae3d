"""The task interface (jetscale.tasks): every task composes and is registered, every sweep names a real task,
the README lists each task with a sweep command, and the workflow rules know no task by name."""

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from hydra.utils import get_class

from conftest import REPO
from jetscale import tasks
from jetscale.sweep import SweepError, load_sweep, sweep_path

TASK_CONFIGS = sorted(p.stem for p in (REPO / "configs" / "task").glob("*.yaml"))


def task_defaults(config: str) -> list:
    return yaml.safe_load((REPO / "configs" / "task" / f"{config}.yaml").read_text())["defaults"]


def base_task(config: str) -> str:
    """The task a task config evaluates as: itself, or for a variant the task its defaults list starts from."""
    bases = [entry for entry in task_defaults(config) if isinstance(entry, str)]
    return base_task(bases[0]) if bases else config


TASKS = [config for config in TASK_CONFIGS if base_task(config) == config]
SWEEPS = sorted(p.stem for p in (REPO / "configs" / "sweep").glob("*.yaml"))


def test_the_issue_tasks_exist():
    assert {"toy", "jets", "rhm", "rambo", "shower"} <= set(TASKS)


@pytest.mark.parametrize("config", TASK_CONFIGS)
def test_each_task_composes_to_its_data_model_and_solver(compose_train, config):
    cfg = compose_train(f"task={config}")
    datamodule, model = get_class(cfg.data._target_), get_class(cfg.model._target_)
    # the name the results table groups by is the task config's name (a variant's: its task's)
    assert datamodule.task == base_task(config)
    assert set(tasks.TASK_DATA) - {"batch_size", "n_val"} <= set(dir(datamodule))
    assert not {"evaluate", "theory_loss", "predict"} & set(dir(datamodule))  # loaders only load: the task evaluates
    assert set(tasks.TASK_MODEL) - {"name", "net"} <= set(dir(model))
    assert cfg.solver in ("closed_form", "lightning")


def test_the_module_docstring_lists_exactly_the_task_configs():
    rows = re.split(r"^=+  =+$", tasks.__doc__, flags=re.M)[1]
    assert sorted(line.split()[0] for line in rows.strip().splitlines()) == TASKS


def test_the_readme_lists_each_task_with_a_sweep_of_that_task():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Tasks", 1)[1].split("\n## ", 1)[0]
    for task in TASKS:
        line = next((ln for ln in section.splitlines() if ln.startswith(f"| `{task}`")), None)
        assert line, f"README's Tasks table has no row for {task}"
        sweep = re.search(r"SWEEP=([\w.-]+)", line)
        assert sweep, f"README's row for {task} has no `make sweep SWEEP=...` command"
        loaded = load_sweep(sweep_path(sweep.group(1)), check_config=False)
        assert loaded.task == task, f"README's {task} row sweeps {loaded.name}, a sweep of task {loaded.task}"


@pytest.mark.parametrize("name", SWEEPS)
def test_every_sweep_names_an_existing_task(name):
    raw = yaml.safe_load((REPO / "configs" / "sweep" / f"{name}.yaml").read_text())
    assert raw.get("task") in TASK_CONFIGS + [None]
    for scale in raw.get("scales") or [None]:  # structure, choices, and the largest point composes, at every scale
        load_sweep(f"{name}@{scale}" if scale else name)


def test_a_sweep_with_an_unknown_task_is_refused_listing_the_tasks(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "bad", "task": "rmh", "axes": {"n_samples": [10]}}))
    with pytest.raises(SweepError, match=r"bad.yaml: task = 'rmh' .*available: .*rhm"):
        load_sweep(path)


def test_the_task_comes_first_in_the_overrides_so_overrides_refine_it(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "task": "toy_sgd", "axes": {"n_samples": [10]},
                                    "overrides": {"ridge": 0.1}}))
    sweep = load_sweep(path)
    assert sweep.hydra_overrides({"n_samples": 10}) == ["task=toy_sgd", "ridge=0.1", "n_samples=10"]


@pytest.mark.parametrize("experiment, task", [("jets_pfn", "jets"), ("toy_sgd", "toy_sgd"), ("toy", "toy"),
                                              ("jets_efp_mlp", "jets_efp_mlp")])
def test_a_sweep_that_still_names_an_experiment_is_told_which_task_to_write(tmp_path, experiment, task):
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({"name": "old", "experiment": experiment, "axes": {"n_samples": [10]}}))
    with pytest.raises(SweepError, match=rf"old.yaml: experiment = '{experiment}': .*write `task: {task}`"):
        load_sweep(path)


def test_workflow_rules_name_no_task():
    """Adding a task must not touch the workflow: the rules only see sweeps and their configs."""
    for rules in (REPO / "workflow" / "rules").glob("*.smk"):
        text = rules.read_text()
        for task in set(TASKS) - {"jets", "toy"}:  # jets: the jet *data* rules; toy: none, checked anyway
            assert not re.search(rf"\b{task}\b", text), f"{rules.name} names task {task}"
        assert "task=" not in text and "cfg.task" not in text, rules.name


class _Incomplete:
    task, batch_size = "x", 8


class _Net:
    n_params = 3

    def train_flops_per_sample(self):
        return 1.0


class _Model:
    name, net = "m", _Net()

    def prepare(self, datamodule): ...
    def net_inputs(self, batch): ...
    def objective(self, output, batch): ...
    def make_optimizer(self, params): ...


def test_check_task_names_every_missing_piece():
    with pytest.raises(ValueError) as err:
        tasks.check_task(_Incomplete(), _Model(), "closed_form")
    message = str(err.value)
    for piece in ("n_val", "train_dataloader", "readout", "fixed_features", "split", "unknown task 'x'"):
        assert piece in message
    assert "_Incomplete" in message and "_Net" in message


def test_the_registry_holds_exactly_the_task_configs_and_each_is_a_task():
    assert sorted(tasks.TASKS) == TASKS
    for name, task in tasks.TASKS.items():
        assert isinstance(task, tasks.Task), name
        assert task.__name__ == f"jetscale.tasks.{name}"


def test_the_datamodules_name_picks_the_task_and_an_unknown_one_is_named_with_the_known_ones():
    class Data:
        task = "rmh"

    assert tasks.task_of(SimpleNamespace(task="rhm")) is tasks.TASKS["rhm"]
    with pytest.raises(ValueError, match=r"data Data: unknown task 'rmh' \(tasks: jets, rambo, rhm, shower, toy"):
        tasks.task_of(Data())


def test_check_task_accepts_the_toy_task(compose_train):
    from hydra.utils import instantiate

    cfg = compose_train("task=toy", "data.source.latent_dim=20", "width=4", "n_samples=8")
    tasks.check_task(instantiate(cfg.data), instantiate(cfg.model), cfg.solver)


def test_config_groups_and_task_files_agree():
    """Each task config picks data and model configs that exist (Hydra would fail late otherwise)."""
    for task in TASK_CONFIGS:
        for entry in task_defaults(task):
            if isinstance(entry, str):  # a variant's base task
                assert entry in TASK_CONFIGS and task.startswith(f"{entry}_"), (task, entry)
                continue
            (group, choice), = entry.items()
            group = group.removeprefix("override ").lstrip("/")
            assert Path(REPO / "configs" / group / f"{choice}.yaml").is_file(), (task, group, choice)


def test_validation_needs_a_val_loader_and_a_validation_step(compose_train):
    """data.n_val > 0 turns on early stopping, which needs both sides of the validation split."""
    from hydra.utils import instantiate

    cfg = compose_train("task=toy_sgd", "data.source.latent_dim=20", "width=4", "n_samples=8")
    datamodule, model = instantiate(cfg.data), instantiate(cfg.model)
    tasks.check_task(datamodule, model, "lightning")  # the toy has no validation split
    datamodule.n_val = 4
    with pytest.raises(ValueError, match="ToyDataModule lacks val_dataloader.*RegressionModule lacks validation_step"):
        tasks.check_task(datamodule, model, "lightning")
