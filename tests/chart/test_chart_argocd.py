"""The Argo CD integration: the UserPoolMfaConfig resource customization (health check and the
reconcile action, laid out as Argo CD's resource_customizations/<group>/<Kind>/), its argocd-cm
patch, and the example Application.

The health cases (health_test.yaml + testdata/) run on gopher-lua, the Lua engine Argo CD embeds
(tests/argocd/luarunner, with the libraries Argo CD gives argocd-cm scripts), and on real Lua 5.1
and 5.4 interpreters; the action cases (actions/action_test.yaml) run on gopher-lua."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from chart_support import CHART_DIR, REPO, system_tool

ARGOCD = REPO / "deploy" / "argocd"
GROUP, KIND = "cognitoidp.operators.dev", "UserPoolMfaConfig"
CUSTOMIZATION = ARGOCD / "resource_customizations" / GROUP / KIND
HEALTH_LUA = CUSTOMIZATION / "health.lua"
ACTIONS = CUSTOMIZATION / "actions"
HEALTH_KEY = f"resource.customizations.health.{GROUP}_{KIND}"
ACTIONS_KEY = f"resource.customizations.actions.{GROUP}_{KIND}"
FINALIZER = "cognitoidp.operators.dev/reset-mfa"
LUARUNNER_BUILD = REPO / "tests" / "argocd" / "build"
CONDITIONS_RS = REPO / "src" / "logic" / "conditions.rs"
VALID_HEALTH = {"Unknown", "Progressing", "Suspended", "Healthy", "Degraded", "Missing"}


# --- the cases, as Argo CD's own tests read them ------------------------------------------------


def health_cases(directory: Path = CUSTOMIZATION) -> list[dict]:
    """health_test.yaml's tests: [{healthStatus: {status, message}, inputPath}]."""
    return yaml.safe_load((directory / "health_test.yaml").read_text())["tests"]


def action_cases() -> dict:
    return yaml.safe_load((ACTIONS / "action_test.yaml").read_text())


def runner_case_names() -> list[tuple[str, str]]:
    """(kind, case) of every case luarunner runs on the customization directory, in its order."""
    actions = action_cases()
    return (
        [("health", t["inputPath"]) for t in health_cases()]
        + [("discovery", t["inputPath"]) for t in actions["discoveryTests"]]
        + [("action", f"{t['action']} {t['inputPath']}") for t in actions["actionTests"]]
    )


def load_object(path: Path) -> dict:
    obj = yaml.safe_load(path.read_text())
    assert isinstance(obj, dict) and obj.get("kind") == KIND, f"{path}: not one {KIND}"
    return obj


# --- gopher-lua (tests/argocd/luarunner) ----------------------------------------------------------


@pytest.fixture(scope="session")
def luarunner() -> str:
    """The runner's binary, built (or found cached) by tests/argocd/build."""
    proc = subprocess.run([str(LUARUNNER_BUILD)], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.fail(f"tests/argocd/build failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout.strip().splitlines()[-1]


def run_luarunner(luarunner: str, directory: Path) -> tuple[int, dict[tuple[str, str], dict], str]:
    proc = subprocess.run([luarunner, "-json", str(directory)], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), f"luarunner could not run the cases (exit {proc.returncode}): {proc.stderr}"
    results = {}
    for line in proc.stdout.splitlines():
        result = json.loads(line)
        results[(result["kind"], result["case"])] = result
    return proc.returncode, results, proc.stderr


@pytest.fixture(scope="module")
def gopher_results(luarunner) -> tuple[int, dict[tuple[str, str], dict], str]:
    return run_luarunner(luarunner, CUSTOMIZATION)


def test_gopher_lua_runs_every_case_and_all_pass(gopher_results):
    returncode, results, stderr = gopher_results
    assert list(results) == runner_case_names(), "luarunner ran other cases than the test files list"
    failed = [f"{k} {c}: {r['detail']}" for (k, c), r in results.items() if not r["ok"]]
    assert returncode == 0 and not failed, "\n".join(failed) or stderr


@pytest.mark.parametrize("kind,case", runner_case_names(), ids=[f"{k}:{c}" for k, c in runner_case_names()])
def test_gopher_lua(gopher_results, kind, case):
    _, results, _ = gopher_results
    result = results.get((kind, case))
    assert result is not None, "luarunner did not run this case"
    assert result["ok"], result["detail"]


# --- Lua 5.1 and 5.4 -----------------------------------------------------------------------------


def to_lua(value) -> str:
    """A Python (JSON) value as a Lua expression, like Argo CD hands the object to the script."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(
            chr(b) if chr(b).isalnum() or chr(b) in " .,:;_-/{}#()=+*'" else f"\\{b}" for b in value.encode()
        ) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(to_lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{to_lua(k)}] = {to_lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"{type(value).__name__} {value!r}: quote it in the test data (Kubernetes sends strings)")


# The script runs in an environment like Argo CD's for argocd-cm scripts: the base functions and
# table, no string/math/io/os, and require("os") giving only os.time and os.date.
SANDBOX = r"""
local base = {"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "print",
  "rawequal", "rawget", "rawset", "select", "setmetatable", "tonumber", "tostring", "type",
  "unpack", "xpcall"}
local safe_os = {time = os.time, date = os.date}
local function load_script(path, obj)
  local file = assert(io.open(path))
  local source = file:read("*a")
  file:close()
  local env = {obj = obj, actionParams = {}, table = table, _VERSION = _VERSION}
  for _, name in ipairs(base) do env[name] = _G[name] end
  env.require = function(name)
    if name == "os" then return safe_os end
    error("module '" .. tostring(name) .. "' not found")
  end
  if setfenv then
    local chunk = assert(loadstring(source, "=" .. path))
    setfenv(chunk, env)
    return chunk
  end
  return assert(load(source, "=" .. path, "t", env))
end
local function js(s)
  local escaped = string.gsub(tostring(s), '[%c"\\]', function(c) return string.format('\\u%04x', string.byte(c)) end)
  return '"' .. escaped .. '"'
end
"""


def run_health(interpreter: str, script: Path, objects: list[dict]) -> list[tuple[str, str]]:
    """Run the health script once per object in one interpreter process; return (status, message)s,
    read as Argo CD reads them (an unknown status is Unknown)."""
    program = [SANDBOX]
    for obj in objects:
        program.append(
            f"do local ok, hs = pcall(load_script({to_lua(str(script))}, {to_lua(obj)}))\n"
            "  if not ok then io.write('[\"error\",', js(hs), ']\\n')\n"
            "  elseif type(hs) ~= 'table' then io.write('[\"error\",\"returned ', type(hs), '\"]\\n')\n"
            "  else io.write('[', js(hs.status or ''), ',', js(hs.message or ''), ']\\n') end end"
        )
    proc = subprocess.run([interpreter, "-"], input="\n".join(program), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    results = []
    for line in proc.stdout.splitlines():
        status, message = json.loads(line)
        if status not in VALID_HEALTH and status != "error":
            status, message = "Unknown", "Lua returned an invalid health status"
        results.append((status, message))
    assert len(results) == len(objects), proc.stdout
    return results


def interpreters() -> list[str]:
    found = [name for name in ("lua5.1", "lua5.4") if shutil.which(name)]
    return found or ["lua5.4"]  # fails with a clear message below when none is installed


@pytest.fixture(scope="module", params=interpreters())
def lua5_results(request) -> dict[str, tuple[str, str]]:
    interpreter = system_tool(request.param)
    cases = health_cases()
    objects = [load_object(CUSTOMIZATION / t["inputPath"]) for t in cases]
    return dict(zip([t["inputPath"] for t in cases], run_health(interpreter, HEALTH_LUA, objects)))


@pytest.mark.parametrize("test", health_cases(), ids=[t["inputPath"] for t in health_cases()])
def test_health_lua5(lua5_results, test):
    want = (test["healthStatus"]["status"], test["healthStatus"]["message"])
    assert lua5_results[test["inputPath"]] == want


def test_lua_5_4_is_installed():
    """Argo CD runs Lua 5.1 semantics (gopher-lua); the script is checked with 5.4 at least."""
    assert "lua5.4" in interpreters() and shutil.which("lua5.4"), "run tests/chart/setup"


# --- the cases themselves ------------------------------------------------------------------------


def test_every_testdata_file_is_a_case():
    used = {t["inputPath"] for t in health_cases()}
    assert used == {f"testdata/{p.name}" for p in (CUSTOMIZATION / "testdata").glob("*.yaml")}
    actions = action_cases()
    used = {t["inputPath"] for t in actions["discoveryTests"]}
    used |= {t[k] for t in actions["actionTests"] for k in ("inputPath", "expectedOutputPath")}
    assert used == {f"testdata/{p.name}" for p in (ACTIONS / "testdata").glob("*.yaml")}
    for test in health_cases():
        assert test["healthStatus"]["status"] in VALID_HEALTH and test["healthStatus"]["message"], test
    statuses = {t["healthStatus"]["status"] for t in health_cases()}
    assert statuses == {"Healthy", "Progressing", "Degraded"}


def test_every_action_is_defined_and_tested():
    definitions = sorted(p.parent.name for p in ACTIONS.glob("*/action.lua"))
    assert definitions == ["reconcile"]
    actions = action_cases()
    for test in actions["discoveryTests"]:
        assert sorted(a["name"] for a in test["result"]) == definitions
    assert sorted({t["action"] for t in actions["actionTests"]}) == definitions


# --- every reason of the operator ----------------------------------------------------------------


def operator_reasons() -> dict[str, bool]:
    """Every Ready reason of the operator -> whether it stalls, read from src/logic/conditions.rs
    (the reasons! macro and Reason::stalls())."""
    source = CONDITIONS_RS.read_text()
    block = re.search(r"reasons!\s*\{(.*?)\n\}", source, re.S)
    assert block, f"the reasons! macro is no longer in {CONDITIONS_RS}"
    reasons = re.findall(r"^\s*([A-Z][A-Za-z]+),?\s*$", re.sub(r"///.*", "", block.group(1)), re.M)
    body = re.search(r"pub fn stalls\(self\) -> bool \{(.*?)\n    \}", source, re.S)
    assert body, f"Reason::stalls() is no longer a match in {CONDITIONS_RS}: update this test"
    arms = {
        verdict == "true": re.findall(r"Reason::([A-Za-z]+)", names)
        for names, verdict in re.findall(r"((?:\|?\s*Reason::[A-Za-z]+\s*)+)=>\s*(true|false)", body.group(1))
    }
    stalls = {r: True for r in arms.get(True, [])} | {r: False for r in arms.get(False, [])}
    assert "Synced" in reasons and "InvalidSpec" in reasons and len(reasons) == len(set(reasons))
    assert sorted(stalls) == sorted(reasons), "Reason::stalls() does not name every reason exactly once"
    return {r: stalls[r] for r in reasons}


def after_pass(reason: str, stalls: bool, message: str, generation: int) -> list[dict]:
    """The conditions the operator writes after a pass that ended with `reason`
    (src/logic/conditions.rs after_pass)."""
    synced = reason == "Synced"

    def condition(type_: str, on: bool) -> dict:
        return {
            "type": type_, "status": "True" if on else "False", "reason": reason, "message": message,
            "observedGeneration": generation, "lastTransitionTime": "2025-03-01T09:00:05Z",
        }

    return [condition("Ready", synced), condition("Reconciling", not synced and not stalls), condition("Stalled", stalls)]


@pytest.fixture(scope="module")
def reason_directory(tmp_path_factory) -> tuple[Path, list[dict]]:
    """A customization directory with health.lua and one case per operator reason."""
    directory = tmp_path_factory.mktemp("reasons") / KIND
    (directory / "testdata").mkdir(parents=True)
    shutil.copy(HEALTH_LUA, directory / "health.lua")
    base = load_object(CUSTOMIZATION / "testdata" / "healthy_synced.yaml")
    tests = []
    for reason, stalls in operator_reasons().items():
        message = f"{reason}: what the operator says about pool us-east-1_Example02"
        obj = json.loads(json.dumps(base))
        obj["status"]["conditions"] = after_pass(reason, stalls, message, obj["metadata"]["generation"])
        (directory / "testdata" / f"{reason}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))
        want = "Healthy" if reason == "Synced" else "Degraded" if stalls else "Progressing"
        tests.append({"healthStatus": {"status": want, "message": message}, "inputPath": f"testdata/{reason}.yaml"})
    (directory / "health_test.yaml").write_text(yaml.safe_dump({"tests": tests}, sort_keys=False))
    return directory, tests


def test_every_operator_reason_gets_its_health_on_gopher_lua(luarunner, reason_directory):
    """Synced -> Healthy, a reason that stalls -> Degraded, any other -> Progressing, each with the
    operator's message: through the conditions the operator writes, not through a list of reasons."""
    directory, tests = reason_directory
    returncode, results, stderr = run_luarunner(luarunner, directory)
    assert [c for _, c in results] == [t["inputPath"] for t in tests]
    failed = [f"{c}: {r['detail']}" for (_, c), r in results.items() if not r["ok"]]
    assert returncode == 0 and not failed, "\n".join(failed) or stderr


@pytest.mark.parametrize("interpreter", interpreters())
def test_every_operator_reason_gets_its_health_on_lua5(interpreter, reason_directory):
    directory, tests = reason_directory
    objects = [yaml.safe_load((directory / t["inputPath"]).read_text()) for t in tests]
    got = run_health(system_tool(interpreter), directory / "health.lua", objects)
    want = [(t["healthStatus"]["status"], t["healthStatus"]["message"]) for t in tests]
    assert dict(zip([t["inputPath"] for t in tests], got)) == dict(zip([t["inputPath"] for t in tests], want))


def test_health_names_no_reason():
    """Health comes from the kstatus conditions only: the script names no Ready reason."""
    code = re.sub(r"--[^\n]*", "", HEALTH_LUA.read_text())
    named = sorted(r for r in operator_reasons() if re.search(rf"\b{r}\b", code))
    assert not named, f"health.lua names reasons: {named}"


# --- the argocd-cm patch and the Application -----------------------------------------------------


def test_cm_patch_carries_the_scripts():
    patch = yaml.safe_load((ARGOCD / "argocd-cm-patch.yaml").read_text())
    assert patch["kind"] == "ConfigMap" and patch["metadata"]["name"] == "argocd-cm"
    assert set(patch["data"]) == {HEALTH_KEY, ACTIONS_KEY}
    assert patch["data"][HEALTH_KEY] == HEALTH_LUA.read_text()
    actions = yaml.safe_load(patch["data"][ACTIONS_KEY])
    assert actions == {
        "discovery.lua": (ACTIONS / "discovery.lua").read_text(),
        "definitions": [{"name": "reconcile", "action.lua": (ACTIONS / "reconcile" / "action.lua").read_text()}],
    }


def test_application():
    app = yaml.safe_load((ARGOCD / "application.yaml").read_text())
    assert app["apiVersion"] == "argoproj.io/v1alpha1" and app["kind"] == "Application"
    source = app["spec"]["source"]
    # The released OCI chart, pinned to the version this repository holds.
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert source["chart"] == chart["name"] and source["targetRevision"] == chart["version"]
    assert source["repoURL"] == "ghcr.io/cognito-mfa-operator/charts"
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]
    ignores = [i for i in app["spec"]["ignoreDifferences"] if i["kind"] == "UserPoolMfaConfig"]
    assert all(i["group"] == "cognitoidp.operators.dev" for i in ignores)
    assert "/status" in [p for i in ignores for p in i.get("jsonPointers", [])]
    assert any(FINALIZER in e for i in ignores for e in i.get("jqPathExpressions", []))
    # The chart's values in the Application are valid for the chart's schema.
    import jsonschema

    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    jsonschema.validate(source["helm"]["valuesObject"], schema)


def test_finalizer_ignore_expression_selects_only_the_operators_finalizer():
    """Evaluate the Application's jq path expression (Argo CD uses gojq) with jq."""
    app = yaml.safe_load((ARGOCD / "application.yaml").read_text())
    (expression,) = [e for i in app["spec"]["ignoreDifferences"] for e in i.get("jqPathExpressions", [])]
    obj = load_object(CUSTOMIZATION / "testdata" / "healthy_synced.yaml")
    obj["metadata"]["finalizers"] = ["example.com/other", FINALIZER]
    proc = subprocess.run(
        [system_tool("jq"), "-c", f"[path({expression})]"], input=json.dumps(obj),
        capture_output=True, text=True, check=True,
    )
    assert json.loads(proc.stdout) == [["metadata", "finalizers", 1]]
    del obj["metadata"]["finalizers"]
    proc = subprocess.run(
        [system_tool("jq"), "-c", f"[path({expression})]"], input=json.dumps(obj),
        capture_output=True, text=True, check=True,
    )
    assert json.loads(proc.stdout) == []


def test_chart_crds_sync_before_everything_else():
    crds = sorted((CHART_DIR / "crds").glob("*.yaml"))
    assert crds, "the chart carries no CRD: run tests/chart/generate"
    for crd in crds:
        for doc in yaml.safe_load_all(crd.read_text()):
            if doc:
                assert doc["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1", crd.name
