"""Helpers of the workflow tests: reading the workflows, their run: scripts, and running one step
of a workflow here, the way a GitHub-hosted runner runs it (bash -eo pipefail, the env of the
workflow, the job and the step, GITHUB_OUTPUT), with the ${{ }} expressions it uses given by the
test."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
ACTIONLINT_CONFIG = REPO / ".github" / "actionlint.yaml"
RELEASE = WORKFLOWS / "release.yaml"
RELEASING_DOC = REPO / "docs" / "releasing.md"
CHART_YAML = REPO / "charts" / "cognito-mfa-operator" / "Chart.yaml"
APPLICATION = REPO / "deploy" / "argocd" / "application.yaml"
CARGO_TOML = REPO / "Cargo.toml"

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def workflow_files() -> list[Path]:
    return sorted(p for p in WORKFLOWS.iterdir() if p.suffix in (".yaml", ".yml"))


def load_workflow(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def runner_labels() -> set[str]:
    """self-hosted-runner.labels of .github/actionlint.yaml."""
    config = yaml.safe_load(ACTIONLINT_CONFIG.read_text()) if ACTIONLINT_CONFIG.exists() else {}
    return set(((config or {}).get("self-hosted-runner") or {}).get("labels") or [])


@dataclasses.dataclass
class RunStep:
    workflow: Path
    job_id: str
    index: int
    step: dict
    shell: str
    line: int  # line of the step's run: key in the workflow file (1-based), 0 if unknown

    @property
    def script(self) -> str:
        return self.step["run"]

    @property
    def label(self) -> str:
        name = self.step.get("id") or self.step.get("name") or f"step {self.index + 1}"
        return f"{self.workflow.name}:{self.line} {self.job_id}/{name}"


def _run_lines(path: Path) -> dict[tuple[str, int], int]:
    """(job id, step index) -> line of its run: key, from the YAML node tree."""
    root = yaml.compose(path.read_text())
    lines = {}
    top = {k.value: v for k, v in root.value}
    for job_key, job in top["jobs"].value:
        steps = {k.value: v for k, v in job.value}.get("steps")
        if steps is None:
            continue
        for index, step in enumerate(steps.value):
            for key, _ in step.value:
                if key.value == "run":
                    lines[(job_key.value, index)] = key.start_mark.line + 1
    return lines


def run_steps(path: Path) -> list[RunStep]:
    """Every run: step of a workflow, with the shell it runs in."""
    workflow = load_workflow(path)
    lines = _run_lines(path)
    default = ((workflow.get("defaults") or {}).get("run") or {}).get("shell")
    result = []
    for job_id, job in workflow["jobs"].items():
        job_default = ((job.get("defaults") or {}).get("run") or {}).get("shell")
        for index, step in enumerate(job.get("steps") or []):
            if "run" in step:
                # Unset everywhere, GitHub runs `bash -e {0}` on Linux and macOS runners.
                shell = step.get("shell") or job_default or default or "bash"
                result.append(RunStep(path, job_id, index, step, shell, lines.get((job_id, index), 0)))
    return result


def blank_expressions(script: str) -> str:
    """The script with every ${{ ... }} replaced by underscores of the same length, as actionlint
    does before it hands a script to shellcheck (spaces would change the shell's parsing)."""
    return EXPRESSION.sub(lambda m: "_" * len(m.group(0)), script)


def find_step(workflow: dict, job_id: str, step_id: str) -> dict:
    for step in workflow["jobs"][job_id]["steps"]:
        if step.get("id") == step_id:
            return step
    raise KeyError(f"no step with id {step_id!r} in job {job_id!r}")


def substitute(text: str, expressions: dict[str, str], where: str) -> str:
    """Evaluate the ${{ }} expressions of `text` from `expressions` (expression text -> value)."""

    def value(match: re.Match) -> str:
        expression = match.group(1).strip()
        if expression not in expressions:
            raise KeyError(f"{where}: the test gives no value for ${{{{ {expression} }}}}")
        return expressions[expression]

    return EXPRESSION.sub(value, str(text))


@dataclasses.dataclass
class StepResult:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]


def run_step(
    path: Path,
    job_id: str,
    step_id: str,
    cwd: Path,
    *,
    expressions: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    path_prepend: list[Path] = (),
    timeout: float = 60,
) -> StepResult:
    """Run one run: step of a workflow in `cwd` with bash -eo pipefail, as `shell: bash` does
    (the script and GITHUB_OUTPUT live in a temp dir of their own, never in `cwd`).

    Its environment: PATH (with path_prepend first), HOME, the workflow's, the job's and the
    step's env (their expressions evaluated from `expressions`), then `env`. The script's own
    expressions are evaluated too. GITHUB_OUTPUT is a fresh file; its name=value lines come back
    as outputs."""
    expressions = expressions or {}
    workflow = load_workflow(path)
    job = workflow["jobs"][job_id]
    step = find_step(workflow, job_id, step_id)
    shell = step.get("shell") or ((job.get("defaults") or {}).get("run") or {}).get("shell") \
        or ((workflow.get("defaults") or {}).get("run") or {}).get("shell")
    assert shell == "bash", f"{job_id}/{step_id}: runs in {shell!r}, the test runs bash"
    where = f"{path.name} {job_id}/{step_id}"

    run_env = {
        "PATH": os.pathsep.join([str(p) for p in path_prepend] + [os.environ.get("PATH", "")]),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }
    for scope in (workflow.get("env") or {}, job.get("env") or {}, step.get("env") or {}):
        for key, val in scope.items():
            run_env[key] = substitute(val, expressions, where)
    run_env.update(env or {})
    with tempfile.TemporaryDirectory(prefix="step-") as private:
        output_file = Path(private) / "github-output"
        output_file.write_text("")
        run_env["GITHUB_OUTPUT"] = str(output_file)
        script = Path(private) / "script.sh"
        script.write_text(substitute(step["run"], expressions, where))
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd, env=run_env, capture_output=True, text=True, timeout=timeout,
        )
        outputs = {}
        for line in output_file.read_text().splitlines():
            if "=" in line:
                key, _, val = line.partition("=")
                outputs[key] = val
    return StepResult(proc.returncode, proc.stdout, proc.stderr, outputs)
