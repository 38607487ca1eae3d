"""`jetscale sync-wandb` on real offline W&B runs written by `jetscale train logger=wandb`.

Nothing here reaches the network: uploads go to a fake `wandb` executable first on PATH that
records its argv and marks the runs synced the way wandb does (`run-<id>.wandb.synced`), and the
server-reachability check is replaced or pointed at localhost.
"""

import argparse
import json
import shutil
import socket
import subprocess
import sys

import pytest

from conftest import BIN
from jetscale import wandb_sync
from jetscale.wandb_sync import find_offline_runs, plan_sync, reachable, register

POINTS = ("n_samples=16__seed=0", "n_samples=16__seed=1")
FAKE_WANDB = """#!/bin/sh
# records [$WANDB_MODE, *argv] as one JSON line; with FAKE_WANDB_FAIL set fails like wandb without a login
"{python}" -c 'import json, os, sys; print(json.dumps([os.environ.get("WANDB_MODE"), *sys.argv[1:]]))' "$@" >> "{log}"
if [ -n "$FAKE_WANDB_FAIL" ]; then echo "Error: No API key configured. Use \\`wandb login\\` to log in." >&2; exit 1; fi
shift  # "sync"
for run in "$@"; do for f in "$run"/*.wandb; do touch "$f.synced"; done; done
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A sweep's results dir whose two points each hold a real offline W&B run of `jetscale train`."""
    import wandb
    from hydra import compose, initialize_config_dir

    from jetscale.paths import CONFIG_DIR
    from jetscale.train import train

    out = tmp_path_factory.mktemp("recorded") / "tiny"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")  # what envs/*.sh export on compute nodes
        mp.setenv("WANDB_SILENT", "true")
        for point in POINTS:
            with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
                cfg = compose(config_name="train", overrides=[
                    "task=toy", "logger=wandb", "data.source.latent_dim=50", "width=8",
                    *point.split("__")])
            train(cfg, out / "runs" / point)
            wandb.finish()  # one process per point in a sweep; here the next point needs its own run
    wandb.teardown()  # stop wandb's service and unset WANDB_SERVICE, which later subprocesses would inherit
    return out


@pytest.fixture
def results(recorded, tmp_path):
    """A private copy of the recorded results, so that a test may mark runs synced."""
    return shutil.copytree(recorded, tmp_path / "results" / "tiny", symlinks=True)


@pytest.fixture
def fake_wandb(tmp_path, monkeypatch):
    """A `wandb` first on PATH that logs each call's argv to the returned file; credentials and network faked."""
    bin_dir, log = tmp_path / "fake-bin", tmp_path / "wandb-calls.jsonl"
    bin_dir.mkdir()
    script = bin_dir / "wandb"
    script.write_text(FAKE_WANDB.format(python=sys.executable, log=log))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{BIN}:/usr/bin:/bin")
    monkeypatch.setenv("WANDB_API_KEY", "fake-key-for-the-preflight-only")
    monkeypatch.setenv("WANDB_MODE", "offline")  # as envs/*.sh leave it on a login node too
    monkeypatch.setattr(wandb_sync, "reachable", lambda url: True)
    return log


def calls(log):
    """The argv of each call of the fake wandb; each call ran with WANDB_MODE unset (uploading is online)."""
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    assert all(mode is None for mode, *_ in lines)
    return [argv for _, *argv in lines]


def sync_wandb_cli(*argv) -> int:
    """`jetscale sync-wandb ARGV` through the subcommand's own parser, as jetscale.cli registers it."""
    parser = argparse.ArgumentParser(prog="jetscale")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sync-wandb", *argv])
    return args.func(args)


def mark_synced(run):
    for f in run.glob("*.wandb"):
        f.with_suffix(".wandb.synced").touch()


def test_finds_the_offline_runs_our_logger_writes(results):
    runs = find_offline_runs([results])
    assert [run.parent.parent.name for run in runs] == list(POINTS)  # <run_dir>/wandb/offline-run-*
    assert all(run.name.startswith("offline-run-") and run.parent.name == "wandb" for run in runs)
    assert all(len(list(run.glob("run-*.wandb"))) == 1 for run in runs)
    # nested or repeated dirs, a run dir and an offline-run dir itself: each run once
    assert find_offline_runs([results, results / "runs", results.parent]) == runs
    assert find_offline_runs([runs[0].parent.parent, runs[0]]) == runs[:1]
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_offline_runs([results / "nowhere"])


def test_synced_marker_agrees_with_real_wandb(results, cli_env):
    pending, synced = find_offline_runs([results])
    mark_synced(synced)
    plan = plan_sync([results])
    assert (plan.pending, plan.synced) == ([pending], [synced])
    # the real wandb CLI (dry run: no network, no login) skips exactly the run we count as synced
    proc = subprocess.run([str(BIN / "wandb"), "sync", "--dry-run", str(pending), str(synced)],
                          capture_output=True, text=True, env=cli_env, timeout=60)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Skipped 1 synced run(s)" in output and "Would sync 1 run(s)" in output
    assert pending.name in output and synced.name not in output.split("Would sync")[1]


def test_dry_run_lists_the_runs_and_uploads_nothing(results, fake_wandb, capsys):
    mark_synced(find_offline_runs([results])[1])
    assert sync_wandb_cli(str(results), "--dry-run") == 0
    out = capsys.readouterr().out
    assert f"2 offline W&B run(s) in {results}: 1 already synced, 1 to upload" in out
    assert out.count("would upload") == 1 and POINTS[0] in out and POINTS[1] not in out.split("\n", 1)[1]
    assert calls(fake_wandb) == []


def test_upload_runs_wandb_sync_and_skips_synced_runs(results, fake_wandb, monkeypatch, capsys):
    monkeypatch.setattr(wandb_sync, "PATHS_PER_CALL", 1)  # one `wandb sync` call per run
    runs = find_offline_runs([results])
    assert sync_wandb_cli(str(results)) == 0
    assert calls(fake_wandb) == [["sync", str(run)] for run in runs]  # an argv list: paths passed verbatim
    assert "uploaded 2, skipped 0 already synced, failed 0" in capsys.readouterr().out
    assert plan_sync([results]).pending == []

    assert sync_wandb_cli(str(results)) == 0  # again: everything is marked, nothing is uploaded
    assert "2 already synced, 0 to upload" in capsys.readouterr().out
    assert len(calls(fake_wandb)) == 2


def test_failed_upload_says_to_log_in_on_a_login_node(results, fake_wandb, monkeypatch):
    monkeypatch.setenv("FAKE_WANDB_FAIL", "1")
    with pytest.raises(RuntimeError, match=r"2 run\(s\) not uploaded.*login node.*wandb login") as err:
        sync_wandb_cli(str(results))
    assert "No API key configured" in str(err.value)  # wandb's own words follow
    assert len(plan_sync([results]).pending) == 2


def test_without_credentials_or_network_nothing_is_tried(results, fake_wandb, monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine example.org login user password pw\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with pytest.raises(RuntimeError, match=r"no W&B credentials.*login node.*after `wandb login`"):
        sync_wandb_cli(str(results))
    netrc.write_text("machine api.wandb.ai login user password 0123456789abcdef\n")  # what `wandb login` writes
    monkeypatch.setattr(wandb_sync, "reachable", lambda url: False)
    with pytest.raises(RuntimeError, match=r"cannot reach https://api.wandb.ai.*login node"):
        sync_wandb_cli(str(results))
    assert calls(fake_wandb) == []


def test_reachable_tries_a_tcp_connection(monkeypatch):
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert reachable(f"http://127.0.0.1:{port}", timeout=2)
    assert not reachable(f"http://127.0.0.1:{port}", timeout=2)  # closed now


def test_without_wandb_installed_only_dry_run_works(results, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no wandb executable
    monkeypatch.setitem(sys.modules, "wandb", None)  # and `import wandb` fails
    assert sync_wandb_cli(str(results), "--dry-run") == 0
    assert "2 to upload" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match=r"not installed: pip install 'jetscale\[wandb\]'"):
        sync_wandb_cli(str(results))
