"""No secret from the environment (W&B API key, tokens, passwords) lands in any file that a run or a sweep
writes: metrics.json and its `config`, Hydra's .hydra/, the CSV and W&B logs, Snakemake's job logs and
its .snakemake/ records."""

import json
import subprocess
import uuid

import yaml

from conftest import REPO
from jetscale.redaction import redact_secrets
from jetscale.train import train

TAG = uuid.uuid4().hex
SECRETS = {
    "WANDB_API_KEY": f"secret-wandb-{TAG}",
    "HF_TOKEN": f"hf-token-{TAG}",
    "JETSCALE_DB_PASSWORD": f"pw-{TAG}",
}


def leaks(root) -> list[str]:
    """'NAME in PATH' for every secret value found in the bytes of a file below ``root``."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{name} in {path}" for name, value in SECRETS.items() if value.encode() in data]
    return found


def test_a_config_that_interpolates_a_secret_is_written_redacted(compose_train, tmp_path, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    cfg = compose_train("task=toy", "data.source.latent_dim=50", "n_samples=16", "width=8",
                        "+note=hub ${oc.env:HF_TOKEN}", "+data_dir=${oc.env:HOME}/jets")
    metrics = train(cfg, tmp_path / "run")
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["config"]["note"] == metrics["config"]["note"] == "hub <redacted>"
    assert written["config"]["data_dir"].endswith("/jets") and "<redacted>" not in written["config"]["data_dir"]
    assert leaks(tmp_path) == []


def test_redact_secrets_only_touches_secret_named_variables():
    environ = {"WANDB_API_KEY": "k" * 40, "GITHUB_TOKEN": "ghp_0123456789", "PASSWORD": "short", "SCRATCH": "/pscratch/u"}
    config = {"a": ["x" + "k" * 40, {"b": "ghp_0123456789"}], "dir": "/pscratch/u/data", "pw": "short", "n": 3}
    assert redact_secrets(config, environ) == {
        "a": ["x<redacted>", {"b": "<redacted>"}], "dir": "/pscratch/u/data", "pw": "short", "n": 3}


def test_sweep_with_wandb_writes_no_secret(tmp_path, cli_env):
    """A real Snakemake sweep (toy_sgd, logger=wandb offline) run with secrets in its environment."""
    sweep = tmp_path / "secrets.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "secrets", "task": "toy_sgd",
        "axes": {"n_samples": [16], "width": [8]},
        "overrides": {"data.source.latent_dim": 50, "trainer.max_steps": 5, "logger": "wandb"},
        "fit": {"laws": []},  # train and aggregate: the table is a results file too
    }))
    env = {k: v for k, v in cli_env.items() if k != "WANDB_SERVICE"}  # an in-process wandb test's service
    env.update(SECRETS, WANDB_MODE="offline", WANDB_SILENT="true")
    proc = subprocess.run(
        ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
         "--profile", str(REPO / "profiles" / "local"), "--config", f"sweep={sweep}", f"results_dir={tmp_path / 'results'}"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "results" / "secrets"
    run = out / "runs" / "n_samples=16__width=8"
    # the grep below covers every kind of file a point leaves, and they hold plain text
    assert (out / "table.csv").exists() and (out / "logs" / "train" / "n_samples=16__width=8.log").exists()
    assert {p.name for p in (run / ".hydra").iterdir()} == {"config.yaml", "hydra.yaml", "overrides.yaml"}
    assert list(run.glob("csv/version_0/metrics.csv")) and list((tmp_path / ".snakemake").rglob("*.log"))
    (wandb_run,) = run.glob("wandb/offline-run-*/run-*.wandb")
    assert b"test_loss" in wandb_run.read_bytes()
    assert leaks(tmp_path) == []
    assert not any(value in proc.stdout + proc.stderr for value in SECRETS.values())


def test_a_secret_in_an_invalid_value_is_redacted_from_every_log_and_traceback(tmp_path, cli_env):
    """A sweep sets a key to a secret by mistake; the library's error quotes the value in its traceback. Neither
    the run dir, the Snakemake logs nor the output holds it."""
    sweep = tmp_path / "bad.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "bad", "task": "toy_sgd", "axes": {"n_samples": [16], "width": [8]},
        "overrides": {"data.source.latent_dim": 50, "trainer.max_steps": 5,
                      "trainer.accelerator": "${oc.env:HF_TOKEN}"},
        "fit": {"laws": []}}))
    env = {k: v for k, v in cli_env.items() if k != "WANDB_SERVICE"}
    env.update(SECRETS, HYDRA_FULL_ERROR="1")  # the whole traceback, with the library's message in it
    proc = subprocess.run(
        ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
         "--profile", str(REPO / "profiles" / "local"), "--config", f"sweep={sweep}",
         f"results_dir={tmp_path / 'results'}"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0, "an accelerator named like a token cannot train"
    log = (tmp_path / "results" / "bad" / "logs" / "train" / "n_samples=16__width=8.log").read_text()
    assert "Traceback" in log and "accelerator" in log and "<redacted>" in log, log[-3000:]
    assert leaks(tmp_path) == []
    assert not any(value in proc.stdout + proc.stderr for value in SECRETS.values())
