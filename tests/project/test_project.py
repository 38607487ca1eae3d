"""Project-level promises: the README's two commands, CI calling them, envs in step with pyproject,
and every relative link of the README and docs/ pointing at something that exists."""

import re
import tomllib

from conftest import REPO


def test_readme_opens_with_the_two_commands():
    readme = (REPO / "README.md").read_text()
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def github_anchor(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]|\[|\]\([^)]*\)", "", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def markdown_links(text):
    """Targets of [text](target) and ![alt](target), outside code blocks and code spans."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_readme_and_docs_links_resolve():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in markdown_links(page.read_text()):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and file.suffix == ".md":
                headings = re.findall(r"^#+ (.*)$", re.sub(r"^```.*?^```", "", file.read_text(), flags=re.M | re.S),
                                      flags=re.M)
                if anchor not in {github_anchor(h) for h in headings}:
                    broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_ci_runs_exactly_the_readme_test_command():
    lines = [l.strip() for l in (REPO / ".ci" / "run").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert "make test" in lines


def test_conda_env_lists_every_dependency_of_the_package():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = (REPO / "envs" / "local.yaml").read_text()
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        name = re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0]
        assert re.search(rf"^\s*-\s*{re.escape(name)}\b", env, re.M), f"{name} missing from envs/local.yaml"
    assert "torch==2.13.0" in env and "torch==2.13.0" in project["dependencies"]


def test_facility_requirements_are_pyprojects_less_torch_and_mpi():
    """envs/{polaris,aurora,perlmutter}.sh install envs/facility-requirements.txt on top of the site's
    torch and MPI: it must list every other dependency, and never torch, mpich or mpi4py."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = [l.strip() for l in (REPO / "envs" / "facility-requirements.txt").read_text().splitlines()]
    listed = {l for l in lines if l and not l.startswith("#")}
    site = {"torch", "mpich", "mpi4py"}
    expected = {r for r in project["dependencies"] if re.split(r"[<>=\[ ;]", r, maxsplit=1)[0] not in site}
    assert listed == expected | set(project["optional-dependencies"]["wandb"])
    for env in ("polaris", "aurora", "perlmutter"):
        assert "pip install -r envs/facility-requirements.txt" in (REPO / "envs" / f"{env}.sh").read_text(), env


def test_no_top_level_module_shadows_the_standard_library():
    """Lightning reruns src/jetscale/train.py as a script for each extra DDP rank, which puts
    src/jetscale/ first on sys.path: a jetscale/secrets.py there once broke torch's own imports."""
    import sys

    names = {p.stem for p in (REPO / "src" / "jetscale").iterdir() if p.suffix == ".py" or p.is_dir()}
    assert not names & set(sys.stdlib_module_names)


def make(*args, **env):
    import os
    import subprocess

    environ = {k: v for k, v in os.environ.items() if k != "JETSCALE_PROFILE"}
    return subprocess.run(["make", "-C", str(REPO), "--no-print-directory", *args], env={**environ, **env},
                          capture_output=True, text=True, timeout=60)


def test_with_a_facility_environment_make_uses_it_and_builds_no_venv(tmp_path):
    """`source envs/aurora.sh` sets JETSCALE_PROFILE: make runs that environment's snakemake on its profile."""
    plan = make("-n", "dry-run", "paper", JETSCALE_PROFILE="aurora")
    assert plan.returncode == 0, plan.stderr
    assert ".venv/bin" not in plan.stdout and "pip install" not in plan.stdout and "-m venv" not in plan.stdout
    assert f"snakemake --profile {REPO}/profiles/aurora  --config sweep=toy-demo" in plan.stdout
    assert f"snakemake --profile {REPO}/profiles/aurora  paper" in plan.stdout
    assert f"--profile {REPO}/profiles/polaris" in make("-n", "sweep", JETSCALE_PROFILE="aurora",
                                                        PROFILE="polaris").stdout
    laptop = make("-n", "dry-run")
    assert f".venv/bin/snakemake --profile {REPO}/profiles/local" in laptop.stdout


def test_the_report_targets_write_one_html_file_beside_the_results_they_show():
    plan = make("-n", "report", "paper-report", "SWEEP=configs/sweep/toy-demo.yaml", "SCALE=full",
                JETSCALE_PROFILE="aurora")
    assert plan.returncode == 0, plan.stderr
    assert "--config sweep=configs/sweep/toy-demo.yaml" in plan.stdout
    assert "--report results/toy-demo/report.html" in plan.stdout
    assert "paper --config paper_scale=full  --report results/paper/full/report.html" in plan.stdout
    assert "run 'make paper SCALE=full' first" in plan.stdout


def test_a_facility_environment_without_jetscale_is_named_not_papered_over(tmp_path):
    refused = make("install", JETSCALE_PROFILE="polaris", PATH="/usr/bin:/bin")
    assert refused.returncode != 0 and "JETSCALE_PROFILE=polaris" in refused.stderr
    assert "no .venv is built here" in refused.stderr
