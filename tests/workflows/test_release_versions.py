"""The version rule of releases (docs/releasing.md): tag v<version>, Cargo.toml's version, the
chart's version and appVersion, and the chart version the Argo CD Application pins, all one.

It must hold on every commit, so that tagging one never fails for a forgotten bump; and the
release workflow's own check (its verify job's step, run here) must accept the tag of that
version and refuse any mismatch."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from workflows_support import APPLICATION, CARGO_TOML, CHART_YAML, RELEASE, REPO, run_step

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$")


def cargo_version() -> str:
    return tomllib.loads(CARGO_TOML.read_text())["package"]["version"]


def chart() -> dict:
    return yaml.safe_load(CHART_YAML.read_text())


def app_source() -> dict:
    return yaml.safe_load(APPLICATION.read_text())["spec"]["source"]


def test_the_version_is_a_release_version():
    assert SEMVER.match(cargo_version()), f"{cargo_version()!r}: not <major>.<minor>.<patch>[-<pre>] (no +build)"


def test_versions_agree():
    version = cargo_version()
    assert chart()["version"] == version, "Chart.yaml version != Cargo.toml version"
    assert chart()["appVersion"] == version, "Chart.yaml appVersion != Cargo.toml version"
    assert app_source()["targetRevision"] == version, "the Argo CD Application pins another chart version"


def test_application_installs_the_released_chart():
    """Exactly the chart the release workflow pushes: oci://ghcr.io/<owner>/charts/<chart name>."""
    source = app_source()
    owner = urlparse(chart()["home"]).path.strip("/").split("/")[0]
    assert source["repoURL"] == f"ghcr.io/{owner}/charts"
    assert source["chart"] == chart()["name"]
    assert "path" not in source, "a chart from a Helm repository has no Git path"


# --- the release workflow's check, run here -------------------------------------------------


def verify(cwd: Path, tag: str, owner: str = "cognito-mfa-operator"):
    return run_step(
        RELEASE, "verify", "verify", cwd,
        env={"GITHUB_REF_NAME": tag, "GITHUB_REPOSITORY_OWNER": owner},
    )


def test_release_check_accepts_this_version():
    result = verify(REPO, f"v{cargo_version()}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.outputs == {"version": cargo_version(), "owner": "cognito-mfa-operator"}


def test_release_check_lowercases_the_owner():
    result = verify(REPO, f"v{cargo_version()}", owner="Cognito-MFA-Operator")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.outputs["owner"] == "cognito-mfa-operator"


@pytest.mark.parametrize("tag", ["v9.9.9", "0.1.0", "v0.1", "v0.1.0+build.1", "release-0.1.0"])
def test_release_check_refuses_other_tags(tag):
    if tag == f"v{cargo_version()}":
        pytest.skip("this is the current version")
    result = verify(REPO, tag)
    assert result.returncode != 0, result.stdout


def bump(text: str, pattern: str) -> str:
    """`text` with the version matched by the group of `pattern` (on one line) set to 99.0.0."""
    new, count = re.subn(pattern, lambda m: m.group(0).replace(m.group(1), "99.0.0"), text, count=1, flags=re.M)
    assert count == 1, pattern
    return new


def tree(tmp_path: Path) -> Path:
    """The files the check reads, copied."""
    for path in (CARGO_TOML, CHART_YAML, APPLICATION):
        target = tmp_path / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return tmp_path


MISMATCHES = {
    "Cargo.toml": (CARGO_TOML, r'^version = "([^"]+)"', "Cargo.toml package.version"),
    "chart version": (CHART_YAML, r"^version: (\S+)", "Chart.yaml version"),
    "chart appVersion": (CHART_YAML, r'^appVersion: "([^"]+)"', "Chart.yaml appVersion"),
    "Argo CD targetRevision": (APPLICATION, r"^    targetRevision: (\S+)", "spec.source.targetRevision"),
}


@pytest.mark.parametrize("case", MISMATCHES, ids=str)
def test_release_check_refuses_a_mismatch(case, tmp_path):
    path, pattern, message = MISMATCHES[case]
    root = tree(tmp_path)
    copy = root / path.relative_to(REPO)
    copy.write_text(bump(copy.read_text(), pattern))
    result = verify(root, f"v{cargo_version()}")
    assert result.returncode != 0, result.stdout
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error::")]
    assert len(errors) == 1 and message in errors[0], result.stdout


def test_release_check_refuses_an_application_on_the_git_path(tmp_path):
    root = tree(tmp_path)
    copy = root / APPLICATION.relative_to(REPO)
    app = yaml.safe_load(copy.read_text())
    app["spec"]["source"] = {
        "repoURL": "https://github.com/cognito-mfa-operator/cognito-mfa-operator.git",
        "targetRevision": "main",
        "path": "charts/cognito-mfa-operator",
    }
    copy.write_text(yaml.safe_dump(app))
    result = verify(root, f"v{cargo_version()}")
    assert result.returncode != 0
    assert "spec.source.chart" in result.stdout and "spec.source.targetRevision" in result.stdout
