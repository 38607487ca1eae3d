"""git_revision: the commit of a checkout, +dirty with changes to tracked files, "unknown" outside git."""

import shutil
import subprocess

import pytest

from jetscale.provenance import UNKNOWN, git_revision

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo, *args) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.org",
                           "-c", "commit.gpgsign=false", *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    (path / "code.py").write_text("x = 1\n")
    git(path, "add", "code.py")
    git(path, "commit", "-q", "-m", "first")
    return path


def test_a_clean_checkout_gives_its_commit_from_any_subdirectory(repo):
    head = git(repo, "rev-parse", "HEAD")
    assert len(head) == 40 and git_revision(repo) == head
    (repo / "sub").mkdir()
    (repo / "untracked.txt").write_text("not part of the code\n")  # untracked files do not count
    assert git_revision(repo / "sub") == head


def test_changes_to_tracked_files_mark_it_dirty_staged_or_not(repo):
    head = git(repo, "rev-parse", "HEAD")
    (repo / "code.py").write_text("x = 2\n")
    assert git_revision(repo) == f"{head}+dirty"
    git(repo, "add", "code.py")
    assert git_revision(repo) == f"{head}+dirty"
    git(repo, "commit", "-q", "-m", "second")
    assert git_revision(repo) == git(repo, "rev-parse", "HEAD") != head


def test_outside_git_or_without_git_it_is_unknown(tmp_path, monkeypatch):
    assert git_revision(tmp_path) == UNKNOWN == "unknown"
    assert git_revision(tmp_path / "missing") == UNKNOWN
    git(tmp_path, "init", "-q")  # a repository without any commit
    assert git_revision(tmp_path) == UNKNOWN
    monkeypatch.setenv("PATH", "")  # no git executable at all
    assert git_revision(tmp_path) == UNKNOWN
