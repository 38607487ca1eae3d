"""Values from configs reach the shell only quoted: sweeps and paths holding `; rm -rf`, `$(...)` and
backquotes are passed literally by the real Snakemake workflow, and no canary command ever runs."""

import json
import shlex
import subprocess

import pytest
import yaml

from conftest import REPO
from jetscale.sweep import Sweep, SweepError, load_sweep, shell_overrides

# Each would create or delete a file in the job's working directory (the test's tmp_path) if a shell ran it.
CANARIES = ("pwned_dollar", "pwned_tick", "pwned_semi", "pwned_results", "pwned_data", "pwned_jets")
CSV_NAME = "csv; rm -rf canary_dir; $(touch pwned_dollar) `touch pwned_tick`; touch pwned_semi"
RESULTS = "results $(touch pwned_results) `touch pwned_results`; touch pwned_results"


def write_sweep(tmp_path, **fields):
    """A one-point toy sweep whose CSV logger name (a string key of the training config) is CSV_NAME,
    written as a Hydra-quoted value, as any Hydra string with `;`, `$(`, `(` or a backquote must be."""
    sweep = {"name": "shell", "task": "toy", "axes": {"n_samples": [16], "width": [8]},
             "overrides": {"data.source.latent_dim": 50, "logger.csv.name": f"'{CSV_NAME}'"},
             "fit": {"laws": []}, **fields}
    path = tmp_path / "shell.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def snakemake(tmp_path, sweep, cli_env, *extra):
    cmd = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--profile", str(REPO / "profiles" / "local"),
           "--config", f"sweep={sweep}", f"results_dir={tmp_path / RESULTS}", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=cli_env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def shell_commands(output: str) -> list[list[str]]:
    """The words of each shell command a dry run (`-n -p`) prints, split as the shell would."""
    prefix = "Shell command: "
    return [shlex.split(line[len(prefix):]) for line in output.splitlines()
            if line.startswith(prefix) and line != prefix + "None"]


@pytest.fixture
def canary_dir(tmp_path):
    """A directory that `rm -rf canary_dir` in the job's working directory would delete."""
    (tmp_path / "canary_dir").mkdir()
    return tmp_path / "canary_dir"


def assert_no_canary(tmp_path):
    assert (tmp_path / "canary_dir").is_dir()
    assert [name for name in CANARIES for where in (tmp_path, REPO) if (where / name).exists()] == []


@pytest.mark.parametrize("value", [CSV_NAME, "it's \"quoted\"", "a\nb", "", "*", "$HOME", "\\", "'", "x=y z"])
def test_shell_overrides_round_trip_through_shlex_and_bash(value, tmp_path):
    overrides = ["task=toy", f"logger.csv.name={value}", f'hydra.run.dir="{tmp_path / RESULTS}"']
    assert shlex.split(shell_overrides(overrides)) == overrides
    bash = subprocess.run(["bash", "-c", f"printf '%s\\0' {shell_overrides(overrides)}"], cwd=tmp_path,
                          capture_output=True, check=True).stdout
    assert bash.split(b"\0")[:-1] == [o.encode() for o in overrides]
    assert list(tmp_path.iterdir()) == []  # bash created nothing


def test_sweep_overrides_are_quoted_as_given():
    sweep = Sweep(name="s", axes={"width": [8]}, overrides={"logger.csv.name": CSV_NAME}, task="toy")
    overrides = sweep.hydra_overrides({"width": 8})
    assert shlex.split(shell_overrides(overrides)) == ["task=toy", f"logger.csv.name={CSV_NAME}", "width=8"]


def test_an_unquoted_hydra_value_with_shell_syntax_stops_at_validation(tmp_path):
    path = write_sweep(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["overrides"]["logger.csv.name"] = CSV_NAME  # not Hydra-quoted: Hydra cannot parse it
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SweepError, match=r"shell.yaml.*overrides do not fit"):
        load_sweep(path)


@pytest.mark.parametrize("bundle_size", [1, 2])  # rule train, or rule train_bundle
def test_every_rule_quotes_its_paths_and_values(tmp_path, cli_env, canary_dir, bundle_size):
    """Dry run of the sweep and the jet targets with a results dir, data dir and jets config path full of shell
    syntax: in every printed command each of them is one literal word (or inside one). (A dataset name with shell
    syntax does not get this far: the generator schema refuses it, below.)"""
    jets = yaml.safe_load((REPO / "configs" / "generator" / "jets_pythia.yaml").read_text())
    jets_config = tmp_path / "jets `touch pwned_jets`; touch pwned_jets.yaml"
    jets_config.write_text(yaml.safe_dump(jets))
    data_dir = tmp_path / "data $(touch pwned_data); touch pwned_data"
    output = snakemake(tmp_path, write_sweep(tmp_path, fit={"laws": ["data"], "bootstrap": 5}), cli_env,
                       f"data_dir={data_dir}", f"jets_config={jets_config}", "jet_shards=1",
                       f"bundle_size={bundle_size}", "-n", "-p", "all", "jets")
    commands = shell_commands(output)
    assert {words[0] for words in commands} >= {"jetscale", "mpiexec"} and len(commands) >= 9
    assert any(words[1] == ("train" if bundle_size == 1 else "train-bundle") for words in commands)
    literal = (str(tmp_path / RESULTS), str(data_dir), str(jets_config), jets["dataset"], CSV_NAME)
    for words in commands:
        for word in words:
            if "touch" in word or "rm -rf" in word:
                assert any(value in word for value in literal), f"{word!r} split off in {shlex.join(words)}"
    assert_no_canary(tmp_path)


def test_a_dataset_name_with_shell_syntax_is_refused_before_any_job(tmp_path, cli_env, canary_dir):
    jets = yaml.safe_load((REPO / "configs" / "generator" / "jets_pythia.yaml").read_text())
    jets["dataset"] = "jets $(touch pwned_jets)"
    jets_config = tmp_path / "jets.yaml"
    jets_config.write_text(yaml.safe_dump(jets))
    cmd = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--profile",
           str(REPO / "profiles" / "local"), "--config", f"jets_config={jets_config}", "jet_shards=1", "-n", "jets"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=cli_env, timeout=300)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert str(jets_config) in message and "dataset" in message and "jets $(touch pwned_jets)" in message
    assert_no_canary(tmp_path)


def test_fit_loss_col_is_quoted(tmp_path, cli_env, canary_dir):
    sweep = write_sweep(tmp_path, fit={"laws": ["joint"], "loss_col": "test_loss; touch pwned_semi"})
    (fit,) = [words for words in shell_commands(snakemake(tmp_path, sweep, cli_env, "-n", "-p"))
              if words[:2] == ["jetscale", "fit"]]
    assert_no_canary(tmp_path)  # a dry run executes nothing; the real run would
    assert fit[fit.index("--loss-col") + 1] == "test_loss; touch pwned_semi"


def test_sweep_runs_with_shell_syntax_passed_literally(tmp_path, cli_env, canary_dir):
    """The real workflow: train and aggregate one point; the values arrive in the run exactly as written."""
    snakemake(tmp_path, write_sweep(tmp_path), cli_env)
    out = tmp_path / RESULTS / "shell"
    run = out / "runs" / "n_samples=16__width=8"
    assert (out / "table.csv").exists() and (run / "metrics.json").exists()
    config = json.loads((run / "metrics.json").read_text())["config"]
    assert config["logger"]["csv"]["name"] == CSV_NAME
    assert f"logger.csv.name='{CSV_NAME}'" in yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text())
    assert (run / CSV_NAME / "version_0" / "metrics.csv").exists()
    assert_no_canary(tmp_path)
