"""tests/env/up as the Rust test kit drives it: commands on stdin, answers on stdout, and an
exit when stdin closes even after whoever read its output is gone (a killed test process)."""

import json
import subprocess
import time
from pathlib import Path

UP = Path(__file__).resolve().parent / "up"


SERVICE_ACCOUNT = "system:serviceaccount:cognito-mfa-operator:cognito-mfa-operator"


def start() -> subprocess.Popen:
    p = subprocess.Popen([str(UP), "--exit-on-stdin-eof"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith("READY "):
            p.dir = Path(line.split(maxsplit=1)[1].strip())
            return p
    p.kill()
    raise AssertionError(f"no READY line; stderr: {p.stderr.read()[-2000:]}")


def answer(p: subprocess.Popen, line: str) -> str:
    p.stdin.write(line + "\n")
    p.stdin.flush()
    return p.stdout.readline().strip()


def test_it_exits_on_stdin_eof_after_its_readers_are_gone():
    p = start()
    try:
        # The parent died: nobody reads stdout or stderr any more, then its stdin closes.
        p.stdout.close()
        p.stderr.close()
        time.sleep(0.5)
        p.stdin.close()
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_revoke_grant_and_expire_answer_once_in_force_and_refuse_its_own_identity():
    p = start()
    try:
        assert answer(p, "revoke cognito-mfa-operator") == "REVOKED cognito-mfa-operator"
        assert answer(p, "grant cognito-mfa-operator") == "GRANTED cognito-mfa-operator"
        refused = answer(p, "revoke testenv-admin")
        assert refused.startswith("ERROR revoke testenv-admin: "), refused
        assert answer(p, "grant someone") == "GRANTED someone"
        assert answer(p, "expire cognito-mfa-operator") == "EXPIRED cognito-mfa-operator"
        assert answer(p, "expire someone leases") == "EXPIRED someone leases"
        assert answer(p, "expire") == "ERROR expire: no user given"
    finally:
        p.stdin.close()
        assert p.wait(timeout=30) == 0


def status(p: subprocess.Popen, path: str, kubeconfig: str = "kubeconfig", *args: str) -> int:
    """The answer to GET path (200 or 403) with DIR/kubeconfig and kubectl args (e.g. --as)."""
    r = subprocess.run(["kubectl", "--kubeconfig", str(p.dir / kubeconfig), "get", "--raw", path, *args],
                       capture_output=True, text=True, timeout=30)
    if r.returncode == 0:
        return 200
    assert "(Forbidden)" in r.stderr, r.stderr
    return 403


def can_i(p: subprocess.Popen, *args: str) -> str:
    r = subprocess.run(["kubectl", "--kubeconfig", str(p.dir / "kubeconfig"), "auth", "can-i", *args],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.strip()


def test_rbac_authorizes_once_loaded_and_masters_always(tmp_path):
    namespaces, leases = "/api/v1/namespaces", "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "list-namespaces"}
    rbac = tmp_path / "rbac.json"
    rbac.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "list-namespaces"},
         "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "list-namespaces"}, "roleRef": ref,
         "subjects": [{"kind": "ServiceAccount", "name": "cognito-mfa-operator", "namespace": "cognito-mfa-operator"}]},
    ]}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}]))
    p = start()
    try:
        # Without RBAC everything is allowed, to every identity.
        assert status(p, namespaces, "kubeconfig", "--as", "unbound") == 200
        assert status(p, leases, "serviceaccount.kubeconfig") == 200

        assert answer(p, f"rbac {rbac}") == f"RBAC LOADED {rbac}"
        assert status(p, namespaces, "kubeconfig", "--as", "unbound") == 403
        assert status(p, namespaces, "kubeconfig", "--as", "unbound", "--as-group", "system:masters") == 200
        assert status(p, "/version", "kubeconfig", "--as", "unbound") == 200  # bootstrap policy
        # The ServiceAccount's certificate, and the admin impersonating it: what is bound, no more.
        assert status(p, namespaces, "serviceaccount.kubeconfig") == 200
        assert status(p, leases, "serviceaccount.kubeconfig") == 403
        assert status(p, namespaces, "kubeconfig", "--as", SERVICE_ACCOUNT) == 200
        assert status(p, leases, "kubeconfig", "--as", SERVICE_ACCOUNT) == 403
        assert can_i(p, "list", "namespaces", "--as", SERVICE_ACCOUNT, "--all-namespaces") == "yes"
        assert can_i(p, "watch", "namespaces", "--as", SERVICE_ACCOUNT, "--all-namespaces") == "no"
        # Masters may do everything.
        for kubeconfig in ("kubeconfig", "operator.kubeconfig"):
            assert status(p, leases, kubeconfig) == 200
        # revoke still denies first, even a member of system:masters.
        assert answer(p, "revoke cognito-mfa-operator") == "REVOKED cognito-mfa-operator"
        assert status(p, leases, "operator.kubeconfig") == 403
        assert answer(p, "grant cognito-mfa-operator") == "GRANTED cognito-mfa-operator"
        assert answer(p, "expire someone leases") == "EXPIRED someone leases"

        refused = answer(p, f"rbac {bad}")
        assert refused.startswith(f"ERROR rbac {bad}: "), refused
        assert status(p, namespaces, "serviceaccount.kubeconfig") == 200  # the last load holds
        assert answer(p, "rbac") == "ERROR rbac: no file given (rbac PATH, or rbac off)"

        assert answer(p, "restart") == "RESTARTED"
        assert status(p, namespaces, "kubeconfig", "--as", "unbound") == 403  # kept across it

        assert answer(p, "rbac off") == "RBAC OFF"
        assert status(p, namespaces, "kubeconfig", "--as", "unbound") == 200
        assert status(p, leases, "serviceaccount.kubeconfig") == 200
    finally:
        p.stdin.close()
        assert p.wait(timeout=30) == 0
