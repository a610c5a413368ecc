"""The release workflow publishes what docs/releasing.md promises.

The workflow's own run: steps are run here, job by job, on stand-in inputs: a fake kubectl-upmfa
binary per platform of the plugin job's matrix instead of the cargo build, and stand-ins on PATH
for the programs that need a registry or GitHub (docker, helm, cosign, gh), which record how they
were called. Artifacts pass between the jobs as upload-artifact and download-artifact (with
merge-multiple) pass them. Then the release's assets are compared with the doc's table and
checked one by one: the krew manifest against the archives, crds.yaml against crds/, SHA256SUMS
against every asset; and the signatures, the chart's registry path and the doc's verification
commands against what the workflow does."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import re
import shlex
import shutil
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

from workflows_support import (
    APPLICATION, CARGO_TOML, CHART_YAML, RELEASE, RELEASING_DOC, REPO, find_step, load_workflow,
    run_step, substitute,
)

VERSION = tomllib.loads(CARGO_TOML.read_text())["package"]["version"]
TAG = f"v{VERSION}"
OWNER = "cognito-mfa-operator"
REPOSITORY = f"{OWNER}/cognito-mfa-operator"
IMAGE_DIGEST = "sha256:" + "1" * 64
CHART_DIGEST = "sha256:" + "2" * 64
WORKFLOW = load_workflow(RELEASE)

# Stand-ins for the programs that talk to a registry or to GitHub. Each appends its arguments
# (shell-quoted) to $CALLS and does the least the workflow relies on.
STUBS = {
    "docker": r"""
printf 'docker %s\n' "$*" >> "$CALLS"
# docker buildx imagetools inspect REF --format '{{ json (index .SBOM "<platform>").SPDX }}'
[ "$1 $2 $3" = "buildx imagetools inspect" ] || { echo "unexpected docker $*" >&2; exit 2; }
platform="$(printf '%s' "$6" | sed -n 's/.*index \.SBOM "\([^"]*\)".*/\1/p')"
[ -n "$platform" ] || { echo "no platform in $6" >&2; exit 2; }
printf '{"spdxVersion": "SPDX-2.3", "name": "%s %s", "packages": [{"name": "base-files"}]}\n' "$4" "$platform"
""",
    "helm": r"""
printf 'helm %s\n' "$*" >> "$CALLS"
case "$1" in
  lint) ;;
  package)  # helm package DIR --destination DEST
    name="$(yq -r .name "$2/Chart.yaml")"; version="$(yq -r .version "$2/Chart.yaml")"
    tar -czf "$4/$name-$version.tgz" -C "$(dirname "$2")" "$(basename "$2")" ;;
  registry) cat > /dev/null ;;
  push) echo "Pushed: ${3#oci://}/$(basename "$2" .tgz)"; echo "Digest: $CHART_DIGEST" ;;
  *) echo "unexpected helm $*" >&2; exit 2 ;;
esac
""",
    "cosign": r"""
printf 'cosign %s\n' "$*" >> "$CALLS"
if [ "$1" = sign-blob ]; then
  while [ $# -gt 0 ]; do
    if [ "$1" = --bundle ]; then echo '{"stand-in": "bundle"}' > "$2"; fi
    shift
  done
fi
""",
    "gh": r"""
printf 'gh %s\n' "$(printf '%q ' "$@")" >> "$CALLS"
""",
}


@dataclasses.dataclass
class Release:
    root: Path
    dist: Path
    calls: list[list[str]]
    notes: str
    jobs: dict[str, dict[str, str]]  # job id -> its outputs
    matrix: list[dict]

    def called(self, program: str, *prefix: str) -> list[list[str]]:
        return [c[1:] for c in self.calls if c[0] == program and c[1 : 1 + len(prefix)] == list(prefix)]


class Job:
    """One job of the release workflow: its steps' outputs become expressions for later steps."""

    def __init__(self, job_id: str, workspace: Path, base_env: dict, expressions: dict):
        self.job_id = job_id
        self.workspace = workspace
        self.env = base_env
        self.expressions = dict(expressions)

    def run(self, step_id: str) -> dict[str, str]:
        result = run_step(
            RELEASE, self.job_id, step_id, self.workspace,
            expressions=self.expressions, env=self.env, path_prepend=[self.env["STUBS"]],
        )
        assert result.returncode == 0, f"{self.job_id}/{step_id} failed:\n{result.stdout}{result.stderr}"
        for key, value in result.outputs.items():
            self.expressions[f"steps.{step_id}.outputs.{key}"] = value
        return result.outputs

    def given(self, step_id: str, **outputs: str) -> None:
        """Outputs of a step that is an action (uses:), which the test does not run."""
        for key, value in outputs.items():
            self.expressions[f"steps.{step_id}.outputs.{key}"] = value

    def outputs(self) -> dict[str, str]:
        """The job's outputs: mapping, evaluated from its steps' outputs."""
        job = WORKFLOW["jobs"][self.job_id]
        return {k: substitute(v, self.expressions, f"{self.job_id} outputs") for k, v in (job.get("outputs") or {}).items()}

    def upload(self, into: Path) -> list[str]:
        """actions/upload-artifact's path glob, flattened into `into` (download with merge-multiple)."""
        (step,) = [s for s in WORKFLOW["jobs"][self.job_id]["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
        files = sorted(glob.glob(str(self.workspace / step["with"]["path"])))
        assert files or step["with"].get("if-no-files-found") != "error", f"{self.job_id}: nothing to upload"
        into.mkdir(exist_ok=True)
        for f in files:
            assert not (into / Path(f).name).exists(), f"two artifacts hold {Path(f).name}"
            shutil.copy(f, into)
        return [Path(f).name for f in files]


def workspace(path: Path, *entries: str) -> Path:
    """A checkout: the named files and directories of the repository, copied."""
    path.mkdir(parents=True)
    for entry in entries:
        source, target = REPO / entry, path / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    return path


def fake_binary(target: str) -> bytes:
    return f"#!/bin/sh\necho kubectl-upmfa built for {target}\n".encode()


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Release:
    root = tmp_path_factory.mktemp("release")
    stubs = root / "stubs"
    stubs.mkdir()
    for name, body in STUBS.items():
        (stubs / name).write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + body.lstrip())
        (stubs / name).chmod(0o755)
    calls = root / "calls.log"
    calls.write_text("")
    runner_temp = root / "runner-temp"
    runner_temp.mkdir()
    env = {
        "GITHUB_REF_NAME": TAG, "GITHUB_REF": f"refs/tags/{TAG}", "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_REPOSITORY_OWNER": OWNER, "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_ACTOR": "release-bot", "RUNNER_OS": "Linux", "RUNNER_TEMP": str(runner_temp),
        "CALLS": str(calls), "STUBS": str(stubs), "CHART_DIGEST": CHART_DIGEST,
    }
    secrets = {"secrets.GITHUB_TOKEN": "stand-in-token", "github.actor": "release-bot", "github.sha": "0" * 40}
    artifacts = root / "artifacts"
    jobs: dict[str, dict[str, str]] = {}

    def needs(*job_ids: str) -> dict[str, str]:
        return {f"needs.{j}.outputs.{k}": v for j in job_ids for k, v in jobs[j].items()}

    verify = Job("verify", workspace(root / "verify", "Cargo.toml", "charts", "deploy/argocd/application.yaml"), env, secrets)
    verify.run("verify")
    jobs["verify"] = verify.outputs()

    image = Job("image", workspace(root / "image", "Dockerfile"), env, {**secrets, **needs("verify")})
    image.run("ref")
    image.given("build", digest=IMAGE_DIGEST)
    image.run("sign-image")
    image.run("sbom")
    image.upload(artifacts)
    jobs["image"] = image.outputs()

    chart = Job("chart", workspace(root / "chart", "charts"), env, {**secrets, **needs("verify")})
    chart.run("package-chart")
    chart.run("push")
    chart.run("sign-chart")
    chart.upload(artifacts)
    jobs["chart"] = chart.outputs()

    matrix = WORKFLOW["jobs"]["plugin"]["strategy"]["matrix"]["include"]
    for entry in matrix:
        name = f"plugin-{entry['os']}-{entry['arch']}"
        ws = workspace(root / name)
        binary = ws / "target" / entry["target"] / "release" / "kubectl-upmfa"
        binary.parent.mkdir(parents=True)
        binary.write_bytes(fake_binary(entry["target"]))
        binary.chmod(0o755)
        plugin = Job("plugin", ws, env, {**secrets, **needs("verify"), **{f"matrix.{k}": v for k, v in entry.items()}})
        plugin.run("package")
        plugin.upload(artifacts)

    download = [s for s in WORKFLOW["jobs"]["release"]["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact@")]
    assert len(download) == 1 and download[0]["with"] == {"path": "artifacts", "merge-multiple": True}
    ws = workspace(root / "release-job", "crds", "plugins")
    shutil.copytree(artifacts, ws / "artifacts")
    final = Job("release", ws, env, {**secrets, **needs("verify", "image", "chart")})
    for step_id in ("assemble", "sign-sums", "notes", "create"):
        final.run(step_id)

    return Release(
        root=root, dist=ws / "dist",
        calls=[shlex.split(line) for line in calls.read_text().splitlines()],
        notes=(runner_temp / "notes.md").read_text(), jobs=jobs, matrix=matrix,
    )


# --- what the doc promises ---------------------------------------------------------------------


def doc_section(title: str) -> str:
    """The text under a heading of docs/releasing.md, up to the next heading (code blocks'
    comment lines are not headings)."""
    lines, inside, fenced = [], False, False
    for line in RELEASING_DOC.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = not fenced and re.match(r"#+ (.*)", line)
        if heading:
            if inside:
                break
            inside = heading.group(1) == title
        elif inside:
            lines.append(line)
    assert lines, f"docs/releasing.md has no section {title!r}"
    return "\n".join(lines) + "\n"


def documented_assets() -> list[str]:
    """The first column of the doc's asset table, placeholders filled in for this version."""
    names = []
    for line in doc_section("GitHub release assets").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and cells[0].startswith("`"):
            (name,) = re.findall(r"`([^`]+)`", cells[0])
            names.append(name.replace("<tag>", TAG).replace("<version>", VERSION))
    return names


def test_the_doc_lists_assets():
    assets = documented_assets()
    assert len(assets) == len(set(assets)) and "SHA256SUMS" in assets and "crds.yaml" in assets


def test_the_release_has_exactly_the_documented_assets(release):
    published = {p.name for p in release.dist.iterdir()}
    documented = set(documented_assets())
    assert not published - documented, f"published, not in docs/releasing.md: {sorted(published - documented)}"
    assert not documented - published, f"in docs/releasing.md, not published: {sorted(documented - published)}"


def test_the_release_uploads_every_asset(release):
    (create,) = release.called("gh", "release", "create")
    assert create[2] == TAG and "--verify-tag" in create
    uploaded = sorted(Path(arg).name for arg in create if arg.startswith("dist/"))
    assert uploaded == sorted(p.name for p in release.dist.iterdir())
    assert ("--prerelease" in create) == ("-" in TAG)


# --- the assets themselves ---------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_plugin_archives_hold_the_binary_and_their_checksum(release):
    for entry in release.matrix:
        archive = release.dist / f"kubectl-upmfa_{TAG}_{entry['os']}_{entry['arch']}.tar.gz"
        with tarfile.open(archive) as tar:
            (member,) = tar.getmembers()
            assert member.name == "kubectl-upmfa" and member.isfile() and member.mode & 0o111
            assert tar.extractfile(member).read() == fake_binary(entry["target"])
        line = (release.dist / f"{archive.name}.sha256").read_text()
        assert line == f"{sha256(archive)}  {archive.name}\n"


def test_krew_manifest_is_filled_in_for_the_release(release):
    template = yaml.safe_load((REPO / "plugins" / "upmfa.yaml").read_text())
    manifest = yaml.safe_load((release.dist / "upmfa.yaml").read_text())
    assert manifest["spec"]["version"] == TAG
    built = {(e["os"], e["arch"]) for e in release.matrix}
    platforms = manifest["spec"]["platforms"]
    assert {(p["selector"]["matchLabels"]["os"], p["selector"]["matchLabels"]["arch"]) for p in platforms} == built
    for platform in platforms:
        labels = platform["selector"]["matchLabels"]
        archive = f"kubectl-upmfa_{TAG}_{labels['os']}_{labels['arch']}.tar.gz"
        assert platform["uri"] == f"https://github.com/{REPOSITORY}/releases/download/{TAG}/{archive}"
        assert platform["sha256"] == sha256(release.dist / archive)
    # Nothing else changed.
    for doc in (template, manifest):
        doc["spec"]["version"] = None
        for platform in doc["spec"]["platforms"]:
            platform["uri"] = platform["sha256"] = None
    assert manifest == template
    assert "PLACEHOLDER" not in (release.dist / "upmfa.yaml").read_text()


def test_crds_yaml_is_every_crd(release):
    crds = sorted((REPO / "crds").glob("*.yaml"))
    assert crds
    combined = [d for d in yaml.safe_load_all((release.dist / "crds.yaml").read_text()) if d is not None]
    assert combined == [yaml.safe_load(p.read_text()) for p in crds]
    for path in crds:
        assert (release.dist / path.name).read_bytes() == path.read_bytes()


def test_sboms_are_spdx_per_image_platform(release):
    platforms = WORKFLOW["env"]["PLATFORMS"].split(",")
    assert platforms == ["linux/amd64", "linux/arm64"]
    for platform in platforms:
        path = release.dist / f"cognito-mfa-operator_{VERSION}_{platform.replace('/', '_')}.spdx.json"
        document = yaml.safe_load(path.read_text())
        assert document["spdxVersion"].startswith("SPDX-")
        assert document["name"] == f"{release.jobs['image']['image']}@{IMAGE_DIGEST} {platform}"


def test_sha256sums_cover_every_asset(release):
    lines = (release.dist / "SHA256SUMS").read_text().splitlines()
    sums = dict(reversed(line.split("  ", 1)) for line in lines)
    others = {p.name for p in release.dist.iterdir()} - {"SHA256SUMS", "SHA256SUMS.cosign.bundle"}
    assert set(sums) == others
    for name, digest in sums.items():
        assert digest == sha256(release.dist / name), name
    (sign,) = release.called("cosign", "sign-blob")
    assert sign[-1] == "dist/SHA256SUMS" and "--yes" in sign
    assert sign[sign.index("--bundle") + 1] == "dist/SHA256SUMS.cosign.bundle"


# --- where things are pushed and how they are signed ---------------------------------------------


def test_image_and_chart_are_signed_by_digest(release):
    image, chart = release.jobs["image"], release.jobs["chart"]
    assert image == {"image": f"ghcr.io/{OWNER}/cognito-mfa-operator", "digest": IMAGE_DIGEST}
    assert chart == {"chart": f"ghcr.io/{OWNER}/charts/cognito-mfa-operator", "digest": CHART_DIGEST}
    signed = sorted(call[-1] for call in release.called("cosign", "sign"))
    assert signed == sorted([f"{image['image']}@{IMAGE_DIGEST}", f"{chart['chart']}@{CHART_DIGEST}"])


def test_the_chart_goes_where_the_argo_cd_application_installs_it_from(release):
    (push,) = release.called("helm", "push")
    chart = yaml.safe_load(CHART_YAML.read_text())
    source = yaml.safe_load(APPLICATION.read_text())["spec"]["source"]
    assert Path(push[1]).name == f"{chart['name']}-{VERSION}.tgz"
    assert push[2] == f"oci://{source['repoURL']}"
    assert source["targetRevision"] == VERSION and source["chart"] == chart["name"]
    assert (release.dist / f"{chart['name']}-{VERSION}.tgz").exists()


def test_keyless_signing_has_its_token():
    jobs = WORKFLOW["jobs"]
    signing = {j for j, job in jobs.items() for s in job["steps"] if "cosign " in str(s.get("run", ""))}
    assert signing == {"image", "chart", "release"}
    for job_id in signing:
        assert jobs[job_id]["permissions"].get("id-token") == "write", job_id
    assert WORKFLOW["permissions"] == {}
    assert {j for j, job in jobs.items() if "write" in job["permissions"].values()} == {"image", "chart", "release"}


# --- the doc's verification commands -------------------------------------------------------------


def test_the_doc_verifies_what_the_workflow_signs(release):
    section = doc_section("Verifying a release")
    shell = re.search(r"```sh\n(.*?)```", section, flags=re.S).group(1)
    variables = dict(re.findall(r"^(\w+)=(\S+)$", shell, flags=re.M))
    version = variables["VERSION"]

    def expand(text: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m.group(1), m.group(0)), text).strip('"')

    identity = expand(variables["IDENTITY"])
    assert identity == f"https://github.com/{REPOSITORY}/.github/workflows/{RELEASE.name}@refs/tags/v{version}"
    assert expand(variables["ISSUER"]) == "https://token.actions.githubusercontent.com"
    verified = [expand(ref) for ref in re.findall(r"^cosign verify (\S+)", shell, flags=re.M)]
    assert verified == [f"{release.jobs['image']['image']}:{version}", f"{release.jobs['chart']['chart']}:{version}"]
    assert re.search(r"^cosign verify-blob SHA256SUMS --bundle SHA256SUMS\.cosign\.bundle", shell, flags=re.M)
    # The regexp for any release accepts this workflow at any v tag, and nothing else.
    regexp = re.search(r"--certificate-identity-regexp '([^']+)'", section).group(1)
    this_identity = f"https://github.com/{REPOSITORY}/.github/workflows/{RELEASE.name}@refs/tags/{TAG}"
    assert re.match(regexp, this_identity)
    assert not re.match(regexp, this_identity.replace("release.yaml", "ci.yaml"))
    assert not re.match(regexp, f"https://github.com/{REPOSITORY}/.github/workflows/{RELEASE.name}@refs/heads/main")


def test_the_release_notes_name_the_digests_and_identity(release):
    identity = f"https://github.com/{REPOSITORY}/.github/workflows/{RELEASE.name}@refs/tags/{TAG}"
    notes = release.notes
    assert f"cosign verify {release.jobs['image']['image']}@{IMAGE_DIGEST}" in notes
    assert f"cosign verify {release.jobs['chart']['chart']}@{CHART_DIGEST}" in notes
    assert notes.count(f"--certificate-identity {identity}") == 3


def test_the_workflow_runs_on_version_tags_only():
    assert WORKFLOW["on"] == {"push": {"tags": ["v*"]}}
    assert find_step(WORKFLOW, "verify", "verify")
    needs = {j: job.get("needs") for j, job in WORKFLOW["jobs"].items()}
    assert all(needs[j] == "verify" for j in ("image", "chart", "plugin"))
    assert set(needs["release"]) == {"verify", "image", "chart", "plugin"}
