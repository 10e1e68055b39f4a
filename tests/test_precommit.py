"""The pre-commit hooks in .pre-commit-hooks.yaml, run by pre-commit itself on a scratch
repository with `pre-commit try-repo` against this checkout.

The `language: system` hook (the specc on PATH) runs in every suite.  The `language: python`
hook makes pre-commit pip-install this repository into an environment of its own, which needs
a package index and takes about 25 s here: set SPECC_PRECOMMIT_INSTALL=1 to run it too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / ".pre-commit-hooks.yaml"


def _git_checkout() -> bool:
    return shutil.which("git") is not None and (ROOT / ".git").exists()


pytestmark = pytest.mark.skipif(not _git_checkout(), reason="try-repo needs this checkout to be a git repository")


@pytest.fixture
def scratch(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "project"
    (repo / "specs").mkdir(parents=True)
    shutil.copy(ROOT / "specs" / "xor.yaml", repo / "specs" / "ok.yaml")
    shutil.copy(ROOT / "specs" / "broken" / "cifar_wrong_in_features.yaml", repo / "specs" / "bad.yaml")
    (repo / ".github").mkdir()
    (repo / ".github" / "ci.yml").write_text("on: push\njobs: {}\n")  # YAML, but no spec: must not be checked
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "NO_COLOR": "1"}
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "."], cwd=repo, check=True, env=env)
    return repo, env


def try_repo(scratch: tuple[Path, dict[str, str]], hook: str, *files: str) -> subprocess.CompletedProcess[str]:
    repo, env = scratch
    args = ["--files", *files] if files else ["--all-files"]
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, *args],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def test_hooks_file_declares_both_variants() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load(HOOKS.read_text(encoding="utf-8"))}
    assert hooks["specc-check"]["language"] == "python"
    assert hooks["specc-check-system"]["language"] == "system"
    for h in hooks.values():
        assert h["entry"].startswith("specc check") and h["types"] == ["yaml"]


def test_system_hook_fails_on_a_broken_spec_only(scratch: tuple[Path, dict[str, str]]) -> None:
    run = try_repo(scratch, "specc-check-system")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "specs/bad.yaml:17:33: error[S001]" in run.stdout
    assert "ok.yaml" not in run.stdout and "ci.yml" not in run.stdout  # --quiet: only problems
    run = try_repo(scratch, "specc-check-system", "specs/ok.yaml")
    assert run.returncode == 0 and "Passed" in run.stdout, run.stdout + run.stderr


@pytest.mark.skipif(not os.environ.get("SPECC_PRECOMMIT_INSTALL"), reason="set SPECC_PRECOMMIT_INSTALL=1: "
                    "pip-installs this repository into a fresh environment (needs a package index, ~25 s)")
def test_python_hook_installs_specc_and_runs(scratch: tuple[Path, dict[str, str]]) -> None:
    run = try_repo(scratch, "specc-check", "specs/ok.yaml")
    assert run.returncode == 0 and "Passed" in run.stdout, run.stdout + run.stderr
    run = try_repo(scratch, "specc-check", "specs/bad.yaml")
    assert run.returncode == 1 and "error[S001]" in run.stdout, run.stdout + run.stderr
