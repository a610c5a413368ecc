"""A stand-in Kubernetes API server for rendering Helm charts without a cluster.

Why nothing simpler: helm-sdkpy 0.1.32 has no template-only (client-only, dry-run) path: its native
install always checks that the cluster is reachable first and ignores option keys it does not know
(dry_run, client_only, kube_version and api_versions were tried), and none of its other calls
returns rendered manifests. The local API server of tests/env/up serves only CRDs and Namespaces,
so Helm fails there with "no matches for kind ServiceAccount / ClusterRole / ..." even with the
memory release driver; no full kube-apiserver is built here, and one would hand back objects with
its defaults filled in, where the tests read them exactly as Helm sent them.

The real Helm engine (helm-sdkpy) has no `template` call: its `Install` action only renders a
chart while talking to an API server (discovery, release storage in Secrets, the CRDs from the
chart's `crds/` directory, then every rendered object). This server answers just enough of the
Kubernetes REST API for that, over plain HTTP on 127.0.0.1:

- discovery (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>/<version>`), legacy
  (non-aggregated) form, which client-go falls back to;
- for every known resource: create, get, list (with equality label selectors), replace,
  merge/strategic/JSON/apply patches (strategic and apply are treated as merge patches), delete
  and an idle watch;
- CRDs become Established on creation and their resources join discovery.

It stores whatever it is sent, so a test can read back exactly the objects Helm created.
It checks nothing about the objects' schemas: that is kubernetes-validate's job.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


BUILTIN_RESOURCES = [
    Resource("", "v1", "Namespace", "namespaces", False),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("", "v1", "ConfigMap", "configmaps", True),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True),
    Resource("", "v1", "Service", "services", True),
    Resource("", "v1", "Pod", "pods", True),
    Resource("", "v1", "Event", "events", True),
    Resource("apps", "v1", "Deployment", "deployments", True),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True),
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
    Resource("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True),
    Resource("events.k8s.io", "v1", "Event", "events", True),
    Resource(
        "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False
    ),
    # The Prometheus Operator's CRD, as if installed in the cluster: the chart's optional
    # ServiceMonitor needs its kind to be known.
    Resource("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", True),
]

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def _merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _json_patch(target, operations):
    """RFC 6902 JSON patch (add, replace, remove, test)."""
    doc = copy.deepcopy(target)

    def walk(path):
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        return parent, parts[-1]

    for op in operations:
        parent, key = walk(op["path"])
        if isinstance(parent, list):
            index = len(parent) if key == "-" else int(key)
            if op["op"] == "add":
                parent.insert(index, op["value"])
            elif op["op"] == "replace":
                parent[index] = op["value"]
            elif op["op"] == "remove":
                del parent[index]
            elif op["op"] == "test" and parent[index] != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
        else:
            if op["op"] in ("add", "replace"):
                parent[key] = op["value"]
            elif op["op"] == "remove":
                del parent[key]
            elif op["op"] == "test" and parent.get(key) != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
    return doc


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """Yield (field number, value) of a protobuf message; only varint and bytes fields."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, value


def _proto_map(entries: list[bytes], decode_value) -> dict:
    result = {}
    for entry in entries:
        kv = dict(_fields(entry))
        result[kv.get(1, b"").decode()] = decode_value(kv.get(2, b""))
    return result


def decode_protobuf_secret(body: bytes) -> dict:
    """Decode a core/v1 Secret sent as application/vnd.kubernetes.protobuf.

    client-go sends built-in core types (Helm's release records are Secrets) in Kubernetes'
    protobuf envelope: magic "k8s\\0", then runtime.Unknown{typeMeta=1, raw=2}. Only what a
    release record uses is decoded: name, namespace, labels, data, type.
    """
    if not body.startswith(b"k8s\x00"):
        raise ValueError("not a Kubernetes protobuf message")
    unknown = dict(_fields(body[4:]))
    secret: dict = {"apiVersion": "v1", "kind": "Secret", "metadata": {}}
    data, labels = [], []
    for number, value in _fields(unknown[2]):
        if number == 1:  # ObjectMeta
            for m_number, m_value in _fields(value):
                if m_number == 1:
                    secret["metadata"]["name"] = m_value.decode()
                elif m_number == 3:
                    secret["metadata"]["namespace"] = m_value.decode()
                elif m_number == 11:
                    labels.append(m_value)
        elif number == 2:
            data.append(value)
        elif number == 3:
            secret["type"] = value.decode()
    if labels:
        secret["metadata"]["labels"] = _proto_map(labels, bytes.decode)
    if data:
        secret["data"] = _proto_map(data, lambda b: base64.b64encode(b).decode())
    return secret


def _decode_body(body: bytes, content_type: str):
    if content_type == "application/vnd.kubernetes.protobuf":
        return decode_protobuf_secret(body)
    return yaml.safe_load(body)


class Store:
    """Objects by (group, plural, namespace, name), plus the discovery table."""

    def __init__(self, kube_version: str):
        self.kube_version = kube_version
        self.lock = threading.RLock()
        self.resources: list[Resource] = list(BUILTIN_RESOURCES)
        self.objects: dict[tuple[str, str, str, str], dict] = {}
        self.requests: list[tuple[str, str]] = []
        self._rv = 1

    def next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def find(self, group: str, version: str, plural: str) -> Resource | None:
        for res in self.resources:
            if res.group == group and res.version == version and res.plural == plural:
                return res
        return None

    def add_crd(self, crd: dict) -> None:
        spec = crd.get("spec", {})
        for ver in spec.get("versions", []):
            res = Resource(
                spec["group"],
                ver["name"],
                spec["names"]["kind"],
                spec["names"]["plural"],
                spec.get("scope") == "Namespaced",
            )
            if res not in self.resources:
                self.resources.append(res)

    def created_objects(self) -> list[dict]:
        """Every stored object except Helm's release records, in creation order."""
        with self.lock:
            return [
                copy.deepcopy(obj)
                for (group, plural, _ns, _name), obj in self.objects.items()
                if not (group == "" and plural == "secrets" and obj.get("type") == "helm.sh/release.v1")
            ]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store: Store  # set on the subclass made by FakeApiServer

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    # -- plumbing ---------------------------------------------------------------------------
    def _send(self, code: int, body: dict | None, content_type: str = "application/json"):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, code: int, reason: str, message: str, name: str = "", kind: str = ""):
        self._send(
            code,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure" if code >= 400 else "Success",
                "message": message,
                "reason": reason,
                "details": {"name": name, "kind": kind},
                "code": code,
            },
        )

    def _body(self) -> tuple[bytes, str]:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        return data, (self.headers.get("Content-Type") or "application/json").split(";")[0]

    # -- discovery --------------------------------------------------------------------------
    def _discovery(self, parts: list[str]) -> bool:
        store = self.store
        if parts == ["version"]:
            major, minor = store.kube_version.lstrip("v").split(".")[:2]
            self._send(
                200,
                {
                    "major": major,
                    "minor": minor,
                    "gitVersion": store.kube_version,
                    "gitCommit": "0000000000000000000000000000000000000000",
                    "gitTreeState": "clean",
                    "buildDate": "2025-01-01T00:00:00Z",
                    "goVersion": "go1.24",
                    "compiler": "gc",
                    "platform": "linux/amd64",
                },
            )
            return True
        if parts == ["api"]:
            self._send(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}
                    ],
                },
            )
            return True
        if parts == ["apis"]:
            groups: dict[str, list[str]] = {}
            with store.lock:
                for res in store.resources:
                    if res.group and res.version not in groups.setdefault(res.group, []):
                        groups[res.group].append(res.version)
            self._send(
                200,
                {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [
                        {
                            "name": group,
                            "versions": [
                                {"groupVersion": f"{group}/{v}", "version": v} for v in versions
                            ],
                            "preferredVersion": {
                                "groupVersion": f"{group}/{versions[0]}",
                                "version": versions[0],
                            },
                        }
                        for group, versions in groups.items()
                    ],
                },
            )
            return True
        gv = None
        if parts == ["api", "v1"]:
            gv = ("", "v1")
        elif len(parts) == 3 and parts[0] == "apis":
            gv = (parts[1], parts[2])
        if gv is None:
            return False
        with store.lock:
            resources = [r for r in store.resources if (r.group, r.version) == gv]
        if not resources:
            self._status(404, "NotFound", f"the server could not find {'/'.join(parts)}")
            return True
        self._send(
            200,
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": resources[0].group_version,
                "resources": [
                    {
                        "name": r.plural,
                        "singularName": r.kind.lower(),
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": VERBS,
                    }
                    for r in resources
                ]
                + [
                    {
                        "name": f"{r.plural}/status",
                        "singularName": "",
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                    for r in resources
                ],
            },
        )
        return True

    # -- resources --------------------------------------------------------------------------
    def _route(self, parts: list[str]):
        """Split a resource path into (resource, namespace, name, subresource)."""
        if parts[:1] == ["api"] and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        elif len(rest) == 2 and rest[0] == "namespaces" and group == "":
            pass  # a Namespace object itself: /api/v1/namespaces/<name>
        res = self.store.find(group, version, rest[0])
        if res is None:
            return None
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        return res, namespace, name, sub

    def _handle(self, method: str):
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self.store.lock:
            self.store.requests.append((method, self.path))
        if method == "GET" and self._discovery(parts):
            return
        route = self._route(parts)
        if route is None:
            self._status(404, "NotFound", f"the server could not find the requested resource {url.path}")
            return
        res, namespace, name, _sub = route
        if res.namespaced and name and not namespace and res.plural != "namespaces":
            self._status(404, "NotFound", "namespace missing")
            return
        key = (res.group, res.plural, namespace, name)
        store = self.store
        with store.lock:
            if method == "GET" and not name:
                if query.get("watch") in ("true", "1"):
                    self._watch(query)
                    return
                self._list(res, namespace, query)
                return
            if method == "GET":
                obj = store.objects.get(key)
                if obj is None:
                    self._status(404, "NotFound", f'{res.plural} "{name}" not found', name, res.plural)
                else:
                    self._send(200, obj)
                return
            if method == "POST":
                body, ctype = self._body()
                obj = _decode_body(body, ctype)
                meta = obj.setdefault("metadata", {})
                name = meta.get("name", "")
                if not name and meta.get("generateName"):
                    name = meta["generateName"] + uuid.uuid4().hex[:5]
                    meta["name"] = name
                if res.namespaced:
                    meta["namespace"] = namespace
                key = (res.group, res.plural, namespace, name)
                if key in store.objects:
                    self._status(409, "AlreadyExists", f'{res.plural} "{name}" already exists', name, res.plural)
                    return
                self._stamp(obj, res, new=True)
                store.objects[key] = obj
                self._send(201, obj)
                return
            if method in ("PUT", "PATCH"):
                body, ctype = self._body()
                existing = store.objects.get(key)
                if method == "PUT":
                    if existing is None:
                        self._status(404, "NotFound", f'{res.plural} "{name}" not found', name, res.plural)
                        return
                    obj = _decode_body(body, ctype)
                elif ctype == "application/json-patch+json":
                    if existing is None:
                        self._status(404, "NotFound", f'{res.plural} "{name}" not found', name, res.plural)
                        return
                    obj = _json_patch(existing, json.loads(body))
                else:
                    if existing is None and ctype != "application/apply-patch+yaml":
                        self._status(404, "NotFound", f'{res.plural} "{name}" not found', name, res.plural)
                        return
                    obj = _merge_patch(existing or {}, yaml.safe_load(body))
                obj.setdefault("metadata", {})["name"] = name
                if res.namespaced:
                    obj["metadata"]["namespace"] = namespace
                self._stamp(obj, res, new=existing is None)
                store.objects[key] = obj
                self._send(201 if existing is None else 200, obj)
                return
            if method == "DELETE":
                obj = store.objects.pop(key, None)
                if obj is None:
                    self._status(404, "NotFound", f'{res.plural} "{name}" not found', name, res.plural)
                else:
                    self._send(200, obj)
                return
        self._status(405, "MethodNotAllowed", f"{method} not supported")

    def _stamp(self, obj: dict, res: Resource, new: bool) -> None:
        meta = obj["metadata"]
        if new:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            meta.setdefault("generation", 1)
        meta["resourceVersion"] = self.store.next_rv()
        obj.setdefault("apiVersion", res.group_version)
        obj.setdefault("kind", res.kind)
        if res.kind == "CustomResourceDefinition":
            obj["status"] = {
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"},
                ],
                "acceptedNames": obj.get("spec", {}).get("names", {}),
                "storedVersions": [
                    v["name"] for v in obj.get("spec", {}).get("versions", []) if v.get("storage")
                ],
            }
            self.store.add_crd(obj)

    def _list(self, res: Resource, namespace: str, query: dict) -> None:
        selector = {}
        for term in filter(None, query.get("labelSelector", "").split(",")):
            k, _, v = term.partition("=")
            selector[k.strip()] = v.strip().lstrip("=")
        items = []
        for (group, plural, ns, _name), obj in self.store.objects.items():
            if (group, plural) != (res.group, res.plural) or (namespace and ns != namespace):
                continue
            labels = obj.get("metadata", {}).get("labels") or {}
            if all(labels.get(k) == v for k, v in selector.items()):
                items.append(obj)
        self._send(
            200,
            {
                "kind": f"{res.kind}List",
                "apiVersion": res.group_version,
                "metadata": {"resourceVersion": str(self.store._rv)},
                "items": items,
            },
        )

    def _watch(self, query: dict) -> None:
        """An idle watch: no events, closed after its timeout (at most a few seconds)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        timeout = min(float(query.get("timeoutSeconds", 5)), 5.0)
        self.store.lock.release()
        try:
            time.sleep(timeout)
        finally:
            self.store.lock.acquire()
        self.wfile.write(b"0\r\n\r\n")

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")


class FakeApiServer:
    """Run the stand-in on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, kube_version: str = "v1.33.0"):
        self.store = Store(kube_version)
        handler = type("BoundHandler", (Handler,), {"store": self.store})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def kubeconfig(self) -> str:
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                "users": [{"name": "fake", "user": {"token": "fake"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )

    def start(self) -> "FakeApiServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
