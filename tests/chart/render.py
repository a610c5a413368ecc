#!/usr/bin/env python3
"""Render the cognito-mfa-operator chart with the real Helm engine (helm-sdkpy).

helm-sdkpy has no `helm template`: its Install action renders the chart and sends every object
to an API server. Here that server is the stand-in in fake_apiserver.py, started on 127.0.0.1
for the one render and stopped afterwards. The result is what Helm actually produced:

- `manifest`: the release manifest (the `helm template` output of the templates, CRDs excluded),
- `objects`: the template objects as the API server received them, in the order Helm sent them,
- `crds`: the objects Helm installed from the chart's crds/ directory,
- `notes`: the rendered NOTES.txt,
- `hooks`: the hook objects (e.g. the `helm test` Pod), from the release record Helm stored (an
  install does not create test hooks, and the manifest leaves hooks out).

Command line: `render.py [--set-json KEY=JSON ...] [-f values.yaml]` prints the manifest.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CHART_DIR = REPO / "charts" / "cognito-mfa-operator"
DEFAULT_RELEASE = "cognito-mfa-operator"
DEFAULT_NAMESPACE = "cognito-mfa-operator"
# Kubernetes version the stand-in API server reports (and the schemas are checked against).
KUBE_VERSION = "1.33"

sys.path.insert(0, str(HERE))
from fake_apiserver import FakeApiServer  # noqa: E402


@dataclass
class Rendered:
    manifest: str
    notes: str
    objects: list[dict] = field(default_factory=list)
    crds: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    hooks: list[dict] = field(default_factory=list)

    def manifest_objects(self) -> list[dict]:
        return [d for d in yaml.safe_load_all(self.manifest) if d]

    def find(self, kind: str, name: str | None = None) -> list[dict]:
        return [
            o
            for o in self.objects
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
        ]

    def one(self, kind: str, name: str | None = None) -> dict:
        found = self.find(kind, name)
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]


def render(
    values: dict | None = None,
    *,
    release: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    chart: Path | str = CHART_DIR,
    kube_version: str = KUBE_VERSION,
    server: FakeApiServer | None = None,
) -> Rendered:
    """Install the chart into a stand-in API server and return what Helm rendered and sent."""
    import helm_sdkpy

    own_server = server is None
    if own_server:
        server = FakeApiServer(kube_version=f"v{kube_version}.0").start()
    try:
        config = helm_sdkpy.Configuration(namespace=namespace, kubeconfig=server.kubeconfig())
        result = asyncio.run(
            helm_sdkpy.Install(config).run(
                release,
                str(chart),
                values=values or {},
                wait=False,
                timeout=60,
            )
        )
        objects = server.store.created_objects()
        hooks = _release_hooks(server)
    finally:
        if own_server:
            server.stop()
    # CRDs from crds/ are not in the release manifest; templated ones (crds.enabled) are.
    templated = {
        d["metadata"]["name"]
        for d in yaml.safe_load_all(result.get("manifest", ""))
        if d and d.get("kind") == "CustomResourceDefinition"
    }
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition" and o["metadata"]["name"] not in templated]
    crd_names = {c["metadata"]["name"] for c in crds}
    chart_crd_names = set()
    crd_dir = Path(chart) / "crds"
    if crd_dir.is_dir():
        for f in sorted(crd_dir.glob("*.y*ml")):
            for doc in yaml.safe_load_all(f.read_text()):
                if doc:
                    chart_crd_names.add(doc["metadata"]["name"])
    assert crd_names == chart_crd_names, (crd_names, chart_crd_names)
    return Rendered(
        manifest=result.get("manifest", ""),
        notes=(result.get("info") or {}).get("notes", ""),
        objects=[o for o in objects if o["kind"] != "CustomResourceDefinition" or o["metadata"]["name"] in templated],
        crds=crds,
        requests=list(server.store.requests),
        hooks=hooks,
    )


def _release_hooks(server: FakeApiServer) -> list[dict]:
    """The hooks of the release record(s) Helm stored (Secret data.release: base64 of gzipped JSON)."""
    hooks = []
    with server.store.lock:
        records = [
            o for (group, plural, _ns, _name), o in server.store.objects.items()
            if group == "" and plural == "secrets" and o.get("type") == "helm.sh/release.v1"
        ]
    for record in records:
        raw = base64.b64decode(base64.b64decode(record["data"]["release"]))
        release = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
        for hook in release.get("hooks") or []:
            hooks += [d for d in yaml.safe_load_all(hook["manifest"]) if d]
    return hooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("-f", "--values", action="append", default=[], help="values file")
    parser.add_argument("--set-json", action="append", default=[], metavar="KEY=JSON",
                        help="top-level or dotted key set to a JSON value")
    parser.add_argument("--release", default=DEFAULT_RELEASE)
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    parser.add_argument("--notes", action="store_true", help="print NOTES.txt instead")
    args = parser.parse_args(argv)
    values: dict = {}
    for path in args.values:
        values.update(yaml.safe_load(Path(path).read_text()) or {})
    for item in args.set_json:
        key, _, raw = item.partition("=")
        node = values
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = json.loads(raw)
    out = render(values, release=args.release, namespace=args.namespace)
    sys.stdout.write(out.notes if args.notes else out.manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
