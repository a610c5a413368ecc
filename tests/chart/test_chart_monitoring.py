"""The chart's monitoring: the PrometheusRule (prometheusRule.enabled) and the Grafana dashboard
ConfigMap (grafanaDashboard.enabled), both off by default.

promtool (Debian's prometheus package, installed by tests/chart/setup) checks the rendered rules
and runs the unit tests of monitoring/alerts_test.yaml on them; it also parses every query of the
dashboard. Every metric the rules and the dashboard use must be in the README's metric table,
and every Ready reason they name in its reason table.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import helm_sdkpy
import kubernetes_validate
import pytest
import yaml

import render
from chart_support import CHART_DIR, HERE, NAMESPACE, RELEASE, REPO, SCENARIOS, rendered, system_tool
from fake_apiserver import FakeApiServer, Resource

MONITORING = HERE / "monitoring"
ALERTS_TEST = MONITORING / "alerts_test.yaml"
# The rule file alerts_test.yaml names in rule_files (written beside a copy of it).
RULES_FILE = "cognito-mfa-operator-rules.yaml"
DASHBOARD_FILE = CHART_DIR / "dashboards" / "cognito-mfa-operator.json"
DASHBOARD_KEY = "cognito-mfa-operator.json"
README = REPO / "README.md"

ENABLED = {"prometheusRule": {"enabled": True}, "grafanaDashboard": {"enabled": True}}
# Alert name -> its key under prometheusRule.rules.
ALERTS = {
    "CognitoMfaResourceNotReady": "resourceNotReady",
    "CognitoMfaDriftDetected": "driftDetected",
    "CognitoMfaResourceCredentialsFailing": "resourceCredentialsFailing",
    "CognitoMfaCognitoCallsCredentialsFailing": "cognitoCallsCredentialsFailing",
    "CognitoMfaNoLeader": "noLeader",
    "CognitoMfaRateLimiterDeferring": "rateLimiterDeferring",
    "CognitoMfaRateLimiterSaturated": "rateLimiterSaturated",
    "CognitoMfaWatchErrors": "watchErrors",
}
# The default prometheusRule.selector: the target labels of the release's metrics Service.
DEFAULT_SELECTOR = f'service="{RELEASE}-metrics",namespace="{NAMESPACE}"'
# Metrics the dashboard must show (task: resources, not-Ready table, reconciles, calls, drift,
# rate limiter, leader, watch errors, status write warnings, version).
DASHBOARD_METRICS = {
    "cognito_mfa_resources",
    "cognito_mfa_resource_ready",
    "cognito_mfa_reconciles_total",
    "cognito_mfa_reconcile_duration_seconds_bucket",
    "cognito_mfa_cognito_calls_total",
    "cognito_mfa_drift_detections_total",
    "cognito_mfa_rate_limiter_wait_seconds_bucket",
    "cognito_mfa_rate_limiter_deferrals_total",
    "cognito_mfa_leader",
    "cognito_mfa_watch_errors_total",
    "cognito_mfa_status_write_warnings_total",
    "cognito_mfa_build_info",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Grafana variables of the dashboard's queries, and what to put in their place for promtool.
GRAFANA_VARIABLES = {"$namespace": NAMESPACE, "$job": ".*", "$__rate_interval": "5m"}


def render_monitoring(values: dict, **kwargs) -> render.Rendered:
    """Render with a stand-in API server that also knows the Prometheus Operator's
    PrometheusRule kind (as a cluster with its CRDs does)."""
    server = FakeApiServer().start()
    server.store.resources.append(Resource("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", True))
    try:
        return render.render(values, server=server, **kwargs)
    finally:
        server.stop()


_cache: dict[str, render.Rendered] = {}


def enabled() -> render.Rendered:
    """The chart rendered with both monitoring objects on, everything else at its defaults."""
    if "enabled" not in _cache:
        _cache["enabled"] = render_monitoring(ENABLED)
    return _cache["enabled"]


def with_rules(extra: dict) -> dict:
    """values with the rules on and prometheusRule merged with extra."""
    return {"prometheusRule": {"enabled": True, **extra}}


def rule_spec(r: render.Rendered) -> dict:
    return r.one("PrometheusRule")["spec"]


def alerts(r: render.Rendered) -> dict[str, dict]:
    """Alert name -> rule."""
    return {rule["alert"]: rule for group in rule_spec(r)["groups"] for rule in group["rules"]}


def write_rules(directory: Path, spec: dict) -> Path:
    path = directory / RULES_FILE
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([system_tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def run_unit_tests(directory: Path, spec: dict) -> subprocess.CompletedProcess:
    """Write the rules and a copy of alerts_test.yaml to directory; run promtool test rules."""
    write_rules(directory, spec)
    shutil.copy(ALERTS_TEST, directory / ALERTS_TEST.name)
    return promtool("test", "rules", ALERTS_TEST.name, cwd=directory)


def dashboard() -> dict:
    return json.loads(DASHBOARD_FILE.read_text())


def all_panels(panels: list[dict]) -> list[dict]:
    """Every panel, including those nested in (collapsed) rows."""
    out = []
    for p in panels:
        out.append(p)
        out += all_panels(p.get("panels", []))
    return out


def dashboard_queries(d: dict) -> list[str]:
    """Every PromQL query of the dashboard: panel targets and query variables."""
    queries = [t["expr"] for p in all_panels(d["panels"]) for t in p.get("targets", [])]
    for var in d["templating"]["list"]:
        if var["type"] == "query":
            q = var["query"]
            queries.append(q["query"] if isinstance(q, dict) else q)
    return queries


def rule_expressions(r: render.Rendered) -> list[str]:
    return [rule["expr"] for rule in alerts(r).values()]


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_METRIC = re.compile(r"(?<![A-Za-z0-9_:])cognito_mfa_[A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The cognito_mfa_* metric names a PromQL expression uses (string literals left out, so
    label values and label_replace arguments do not count)."""
    return set(_METRIC.findall(_STRING.sub('""', expr)))


def readme_metrics() -> dict[str, bool]:
    """The README's metric table: metric name -> whether it is a histogram."""
    table = {}
    for line in README.read_text().splitlines():
        if line.startswith("| `cognito_mfa_"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            name = cells[0].strip("`")
            table[name] = "histogram" in (cells[1] if len(cells) > 1 else "")
    return table


def unknown_metrics(names: set[str], table: dict[str, bool]) -> set[str]:
    """Names that are no series of a metric of the table: a listed name, a histogram's
    _bucket/_sum/_count, or the _total series of a counter listed without it."""
    unknown = set()
    for name in names:
        if name in table:
            continue
        base, _, suffix = name.rpartition("_")
        if f"_{suffix}" in HISTOGRAM_SUFFIXES and table.get(base):
            continue
        if suffix == "total" and base in table and not table[base]:
            continue
        unknown.add(name)
    return unknown


def readme_ready_reasons() -> set[str]:
    """The reasons of the README's "Ready reasons" table."""
    text = README.read_text()
    section = text.split("### Ready reasons", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([A-Za-z]+)` \|", section, flags=re.M))


def reasons_named(expr: str) -> set[str]:
    """Reasons a rule matches on: the values of its reason/outcome matchers."""
    found = set()
    for value in re.findall(r'\b(?:reason|outcome)\s*=~?\s*"([^"]*)"', expr):
        found |= set(value.split("|"))
    return found


def selectors(expr: str) -> list[tuple[str, str | None]]:
    """(metric, matchers or None) for every use of a cognito_mfa_* metric in expr."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"(cognito_mfa_[A-Za-z0-9_:]*)(?:\{([^}]*)\})?", expr)]


# ---------------------------------------------------------------------------------------------
# Off by default


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_no_monitoring_object_unless_enabled(scenario):
    r = rendered(scenario)
    assert not r.find("PrometheusRule")
    assert not [o for o in r.find("ConfigMap") if DASHBOARD_KEY in (o.get("data") or {})]
    assert "PrometheusRule" not in r.manifest and "grafana_dashboard" not in r.manifest


def test_both_are_off_in_values_yaml():
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert values["prometheusRule"]["enabled"] is False
    assert values["grafanaDashboard"]["enabled"] is False


# ---------------------------------------------------------------------------------------------
# The PrometheusRule


def test_prometheus_rule_object():
    rule = enabled().one("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(rule) == {"apiVersion", "kind", "metadata", "spec"}
    meta = rule["metadata"]
    assert (meta["name"], meta["namespace"]) == (RELEASE, NAMESPACE)
    assert meta["labels"]["app.kubernetes.io/instance"] == RELEASE
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    (group,) = rule["spec"]["groups"]
    assert set(group) == {"name", "rules"}
    assert [r["alert"] for r in group["rules"]] == list(ALERTS)
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["prometheusRule"]
    for r in group["rules"]:
        assert set(r) == {"alert", "expr", "for", "labels", "annotations"}, r["alert"]
        settings = values["rules"][ALERTS[r["alert"]]]
        assert r["for"] == settings["for"]
        assert r["labels"] == {"severity": settings["severity"]}
        assert set(r["annotations"]) == {"summary", "description", "runbook_url"}, r["alert"]
        assert r["annotations"]["runbook_url"] == values["runbookUrl"] + r["alert"].lower()
    assert alerts(enabled())["CognitoMfaNoLeader"]["labels"]["severity"] == "critical"


def test_promtool_check_rules(tmp_path):
    path = write_rules(tmp_path, rule_spec(enabled()))
    proc = promtool("check", "rules", path.name, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in proc.stdout


def test_promtool_check_rules_can_fail(tmp_path):
    spec = copy.deepcopy(rule_spec(enabled()))
    spec["groups"][0]["rules"][0]["expr"] += " +"
    proc = promtool("check", "rules", write_rules(tmp_path, spec).name, cwd=tmp_path)
    assert proc.returncode != 0


def test_promtool_unit_tests(tmp_path):
    proc = run_unit_tests(tmp_path, rule_spec(enabled()))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@pytest.mark.parametrize(
    "alert, change",
    [
        ("CognitoMfaResourceNotReady", {"for": "20m"}),
        ("CognitoMfaNoLeader", {"expr": "max(cognito_mfa_leader) < 1 or absent(cognito_mfa_leader)"}),
        ("CognitoMfaWatchErrors", {"labels": {"severity": "info"}}),
    ],
    ids=["later", "not-scoped", "other-severity"],
)
def test_promtool_unit_tests_can_fail(tmp_path, alert, change):
    """The unit tests notice a rule that fires later, one that mixes releases and a label."""
    spec = copy.deepcopy(rule_spec(enabled()))
    (rule,) = [r for r in spec["groups"][0]["rules"] if r["alert"] == alert]
    rule.update(change)
    proc = run_unit_tests(tmp_path, spec)
    assert proc.returncode != 0
    assert f"alertname: {alert}," in proc.stdout + proc.stderr


def test_every_alert_has_a_firing_and_a_quiet_case():
    cases = [a for t in yaml.safe_load(ALERTS_TEST.read_text())["tests"] for a in t["alert_rule_test"]]
    assert yaml.safe_load(ALERTS_TEST.read_text())["rule_files"] == [RULES_FILE]
    for name in alerts(enabled()):
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c.get("exp_alerts") for c in mine), f"{name}: no case where it fires"
        assert any(not c.get("exp_alerts") for c in mine), f"{name}: no case where it must not fire"
    assert {c["alertname"] for c in cases} <= set(alerts(enabled()))


def test_alerts_name_what_they_can():
    """Resource alerts carry the resource's namespace, name, pool and reason; the summary and
    description use them."""
    a = alerts(enabled())
    for name in ("CognitoMfaResourceNotReady", "CognitoMfaResourceCredentialsFailing"):
        assert "by (namespace, name, user_pool_id, reason)" in a[name]["expr"]
        text = a[name]["annotations"]["summary"] + a[name]["annotations"]["description"]
        for label in ("namespace", "name", "user_pool_id", "reason"):
            assert f"{{{{ $labels.{label} }}}}" in text, (name, label)
    calls = a["CognitoMfaCognitoCallsCredentialsFailing"]
    for label in ("operation", "outcome", "region"):
        assert f"{{{{ $labels.{label} }}}}" in calls["annotations"]["summary"] + calls["annotations"]["description"]
    assert NAMESPACE in a["CognitoMfaNoLeader"]["annotations"]["description"]


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("", DEFAULT_SELECTOR),
        ('job="cmo-{{ .Release.Namespace }}",cluster="eu-1"', f'job="cmo-{NAMESPACE}",cluster="eu-1"'),
    ],
    ids=["default", "custom-templated"],
)
def test_every_expression_is_scoped_by_the_selector(selector, expected):
    r = enabled() if not selector else render_monitoring(with_rules({"selector": selector}))
    for rule in alerts(r).values():
        uses = selectors(rule["expr"])
        assert uses, rule["alert"]
        for metric, matchers in uses:
            assert matchers is not None and matchers.startswith(expected), f"{rule['alert']}: {metric}{{{matchers}}}"


def test_selector_check_can_fail():
    assert selectors("rate(cognito_mfa_watch_errors_total[5m])") == [("cognito_mfa_watch_errors_total", None)]
    ((_, matchers),) = selectors('cognito_mfa_leader{namespace="other"}')
    assert not matchers.startswith(DEFAULT_SELECTOR)


def test_rule_options():
    r = render_monitoring(
        with_rules(
            {
                "namespace": "monitoring",
                "labels": {"release": "prometheus"},
                "annotations": {"example.com/owner": "identity"},
                "additionalRuleLabels": {"team": "identity", "severity": "ignored"},
                "runbookUrl": "",
                "dashboardUrl": "https://grafana.example.com/d/cognito-mfa-operator",
                "rules": {
                    "driftDetected": {"enabled": False},
                    "noLeader": {"for": "10m", "severity": "page"},
                    "rateLimiterSaturated": {"waitSeconds": 2.5},
                },
            }
        )
    )
    rule = r.one("PrometheusRule")
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["metadata"]["annotations"]["example.com/owner"] == "identity"
    a = alerts(r)
    assert set(a) == set(ALERTS) - {"CognitoMfaDriftDetected"}
    for name, x in a.items():
        # The rule's own severity wins over additionalRuleLabels.
        assert x["labels"]["team"] == "identity"
        assert x["labels"]["severity"] == ("page" if name == "CognitoMfaNoLeader" else "warning")
        assert x["annotations"]["dashboard_url"] == "https://grafana.example.com/d/cognito-mfa-operator"
        assert "runbook_url" not in x["annotations"]
    assert a["CognitoMfaNoLeader"]["for"] == "10m"
    assert "For 10m no replica" in a["CognitoMfaNoLeader"]["annotations"]["description"]
    assert a["CognitoMfaRateLimiterSaturated"]["expr"].rstrip().endswith("> 2.5")
    # The selector stays that of the release, wherever the rule object goes.
    assert DEFAULT_SELECTOR in a["CognitoMfaNoLeader"]["expr"]


def test_every_alert_has_a_runbook_section():
    """runbook_url points at docs/monitoring.md#<alert in lower case>: the section must exist
    (GitHub makes the anchor of a heading from its text in lower case)."""
    headings = re.findall(r"^### (\S+)$", (REPO / "docs" / "monitoring.md").read_text(), flags=re.M)
    assert set(alerts(enabled())) <= set(headings), sorted(set(alerts(enabled())) - set(headings))
    base = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["prometheusRule"]["runbookUrl"]
    assert base.endswith("/docs/monitoring.md#")


def test_every_rule_disabled_is_refused():
    with pytest.raises(helm_sdkpy.InstallError, match="every rule is disabled"):
        render_monitoring(with_rules({"rules": {key: {"enabled": False} for key in ALERTS.values()}}))


def test_credential_reasons_are_ready_reasons():
    """The credential and authorization reasons the rules match on exist in the README."""
    reasons = readme_ready_reasons()
    assert {"Synced", "NotAuthorized", "CredentialsUnavailable", "TooManyRequests"} <= reasons
    used = set().union(*(reasons_named(e) for e in rule_expressions(enabled())))
    assert used == {"NotAuthorized", "CredentialsUnavailable"}
    assert used <= reasons
    assert reasons_named('x{outcome=~"NotAuthorised|Timeout"}') - reasons == {"NotAuthorised"}


# ---------------------------------------------------------------------------------------------
# Metric names against the README's metric table


def test_readme_metric_table_is_read():
    table = readme_metrics()
    assert len(table) >= 10, table
    assert table["cognito_mfa_reconcile_duration_seconds"] is True
    assert table["cognito_mfa_leader"] is False


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_metric_used_is_in_the_readme(source):
    exprs = rule_expressions(enabled()) if source == "rules" else dashboard_queries(dashboard())
    used = set().union(*(metric_names(e) for e in exprs))
    assert used, f"no metric found in the {source}"
    unknown = unknown_metrics(used, readme_metrics())
    assert not unknown, f"{source} use metrics the README's metric table does not list: {sorted(unknown)}"


def test_metric_check_catches_a_made_up_metric():
    table = readme_metrics()
    expr = (
        'sum(rate(cognito_mfa_made_up_total{namespace="cognito_mfa_not_a_metric"}[5m]))'
        " + cognito_mfa_reconciles_total_bucket + cognito_mfa_reconcile_duration_seconds_count"
    )
    assert metric_names(expr) == {
        "cognito_mfa_made_up_total", "cognito_mfa_reconciles_total_bucket", "cognito_mfa_reconcile_duration_seconds_count"
    }
    assert unknown_metrics(metric_names(expr), table) == {"cognito_mfa_made_up_total", "cognito_mfa_reconciles_total_bucket"}
    assert unknown_metrics({"cognito_mfa_watch_errors"}, {"cognito_mfa_watch_errors": False}) == set()
    assert unknown_metrics({"cognito_mfa_watch_errors_total"}, {"cognito_mfa_watch_errors": False}) == set()


# ---------------------------------------------------------------------------------------------
# The dashboard


def test_dashboard_is_valid_json_with_unique_panel_ids():
    d = json.loads(DASHBOARD_FILE.read_text())
    assert DASHBOARD_FILE.read_text().endswith("}\n")
    assert d["uid"] == "cognito-mfa-operator" and d["title"]
    panels = all_panels(d["panels"])
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    assert all(isinstance(i, int) for i in ids)
    for p in panels:
        assert p["title"] and p["type"], p
        assert set(p["gridPos"]) == {"h", "w", "x", "y"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, p["title"]
        if p["type"] != "row":
            assert p["targets"], p["title"]
            refs = [t["refId"] for t in p["targets"]]
            assert len(refs) == len(set(refs)), p["title"]


def test_dashboard_uses_the_datasource_variable():
    d = dashboard()
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["namespace"]["type"] == "query"
    ds = {"type": "prometheus", "uid": "${datasource}"}
    assert variables["namespace"]["datasource"] == ds
    for p in all_panels(d["panels"]):
        if p["type"] == "row":
            continue
        assert p["datasource"] == ds, p["title"]
        for t in p["targets"]:
            assert t["datasource"] == ds, p["title"]
    assert "__inputs" not in d, "the sidecar loads the JSON as it is: no import-time inputs"


def test_dashboard_queries_select_the_namespace():
    for p in all_panels(dashboard()["panels"]):
        for t in p.get("targets", []):
            for metric, matchers in selectors(t["expr"]):
                assert matchers and 'namespace=~"$namespace"' in matchers, f"{p['title']}: {metric}"


def test_dashboard_shows_the_metrics():
    used = set().union(*(metric_names(q) for q in dashboard_queries(dashboard())))
    assert DASHBOARD_METRICS <= used, sorted(DASHBOARD_METRICS - used)
    titles = {p["title"] for p in all_panels(dashboard()["panels"])}
    assert {"Resources by Ready reason", "Resources not Ready", "Version", "Leader"} <= titles


def _promql(query: str) -> str:
    """A dashboard query with its Grafana variables replaced, for promtool."""
    for var, value in GRAFANA_VARIABLES.items():
        query = query.replace("${" + var[1:] + "}", value).replace(var, value)
    leftover = re.findall(r"\$\{?[A-Za-z_]\w*", query)
    assert not leftover, f"unknown Grafana variable {leftover} in {query}"
    return query


def test_dashboard_queries_are_valid_promql(tmp_path):
    queries = dashboard_queries(dashboard())
    rules = []
    for i, q in enumerate(queries):
        if q.startswith("label_values("):
            # Grafana's own function: label_values(<series selector>, <label>).
            m = re.fullmatch(r"label_values\((.+), *([A-Za-z_]\w*)\)", q)
            assert m, q
            q = m.group(1)
        rules.append({"record": f"dashboard:query_{i}", "expr": _promql(q)})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))
    proc = promtool("check", "rules", path.name, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_not_ready_table_names_the_resource(tmp_path):
    """The table's query, on series as a ServiceMonitor scrape labels them: one row per resource
    (two replicas report it), with the resource's namespace, not the operator's."""
    (table,) = [p for p in all_panels(dashboard()["panels"]) if p["title"] == "Resources not Ready"]
    expr = _promql(table["targets"][0]["expr"])
    target = f'namespace="{NAMESPACE}",service="{RELEASE}-metrics",job="{RELEASE}-metrics"'
    series = [
        (f'cognito_mfa_resource_ready{{{target},pod="a",exported_namespace="team-a",name="login",user_pool_id="eu-west-1_AbC123",reason="Conflict"}}', "0x5"),
        (f'cognito_mfa_resource_ready{{{target},pod="b",exported_namespace="team-a",name="login",user_pool_id="eu-west-1_AbC123",reason="Conflict"}}', "0x5"),
        (f'cognito_mfa_resource_ready{{{target},pod="a",exported_namespace="team-a",name="ok",user_pool_id="eu-west-1_DeF456",reason="Synced"}}', "1x5"),
        ('cognito_mfa_resource_ready{namespace="other",job="other",pod="c",exported_namespace="team-b",name="x",user_pool_id="eu-west-1_X",reason="Conflict"}', "0x5"),
    ]
    test = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "3m",
                        "exp_samples": [
                            {"labels": '{namespace="team-a",name="login",user_pool_id="eu-west-1_AbC123",reason="Conflict"}', "value": 0}
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "table_test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    proc = promtool("test", "rules", "table_test.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------
# The dashboard ConfigMap


def test_dashboard_configmap_carries_the_json_verbatim():
    cm = enabled().one("ConfigMap", f"{RELEASE}-dashboard")
    assert cm["metadata"]["namespace"] == NAMESPACE
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
    assert "annotations" not in cm["metadata"] or not {
        k for k in cm["metadata"]["annotations"] if not k.startswith("meta.helm.sh/")
    }
    assert list(cm["data"]) == [DASHBOARD_KEY]
    assert cm["data"][DASHBOARD_KEY] == DASHBOARD_FILE.read_text()
    for version in ("1.28", "1.33"):
        (manifest,) = [o for o in enabled().manifest_objects() if o["kind"] == "ConfigMap" and o["metadata"]["name"] == f"{RELEASE}-dashboard"]
        kubernetes_validate.validate(manifest, version, strict=True)


def test_dashboard_configmap_options():
    r = render_monitoring(
        {
            "grafanaDashboard": {
                "enabled": True,
                "namespace": "monitoring",
                "label": "example.com/dashboard",
                "labelValue": "cognito",
                "labels": {"team": "identity"},
                "annotations": {"grafana_folder": "Operators"},
            }
        }
    )
    cm = r.one("ConfigMap", f"{RELEASE}-dashboard")
    assert cm["metadata"]["namespace"] == "monitoring"
    labels = cm["metadata"]["labels"]
    assert labels["example.com/dashboard"] == "cognito" and labels["team"] == "identity"
    assert "grafana_dashboard" not in labels
    assert cm["metadata"]["annotations"]["grafana_folder"] == "Operators"
    assert cm["data"][DASHBOARD_KEY] == DASHBOARD_FILE.read_text()
    assert not r.find("PrometheusRule")


# ---------------------------------------------------------------------------------------------
# Values schema


@pytest.mark.parametrize(
    "values",
    [
        {"prometheusRule": {"enabled": "yes"}},
        {"prometheusRule": {"enabeld": True}},
        {"prometheusRule": {"labels": {"release": 1}}},
        {"prometheusRule": {"namespace": "Monitoring"}},
        {"prometheusRule": {"selector": ["job"]}},
        {"prometheusRule": {"rules": {"noLeader": {"for": "5 minutes"}}}},
        {"prometheusRule": {"rules": {"noLeader": {"for": "30s5m"}}}},
        {"prometheusRule": {"rules": {"noLeader": {"for": ""}}}},
        {"prometheusRule": {"rules": {"noLeader": {"severity": ""}}}},
        {"prometheusRule": {"rules": {"madeUp": {"enabled": True}}}},
        {"prometheusRule": {"rules": {"rateLimiterSaturated": {"waitSeconds": 0}}}},
        {"prometheusRule": {"rules": {"watchErrors": {"threshold": 1}}}},
        {"grafanaDashboard": {"enabled": 1}},
        {"grafanaDashboard": {"labelValue": "not valid"}},
        {"grafanaDashboard": {"label": ""}},
        {"grafanaDashboard": {"annotations": {"grafana_folder": True}}},
        {"grafanaDashboard": {"folder": "x"}},
    ],
    ids=[
        "rule-enabled-not-boolean", "rule-unknown-key", "rule-label-not-string", "rule-bad-namespace",
        "selector-not-string", "for-not-a-duration", "for-out-of-order", "for-empty", "severity-empty",
        "unknown-rule", "zero-wait", "rule-unknown-setting", "dashboard-enabled-not-boolean",
        "bad-label-value", "empty-label", "annotation-not-string", "dashboard-unknown-key",
    ],
)
def test_values_schema_rejects(values):
    with pytest.raises(helm_sdkpy.InstallError):
        render_monitoring(values)


def test_values_schema_accepts_every_option():
    r = render_monitoring(
        {
            "prometheusRule": {
                "enabled": True,
                "namespace": "monitoring",
                "labels": {"release": "prometheus"},
                "annotations": {"a": "b"},
                "selector": 'job="x"',
                "additionalRuleLabels": {"team": "identity"},
                "runbookUrl": "https://runbooks.example.com/",
                "dashboardUrl": "https://grafana.example.com/d/x",
                "rules": {key: {"enabled": True, "for": "1h30m", "severity": "info"} for key in ALERTS.values()},
            },
            "grafanaDashboard": {
                "enabled": True,
                "namespace": "monitoring",
                "label": "grafana_dashboard",
                "labelValue": "",
                "labels": {"x": "y"},
                "annotations": {"grafana_folder": "Operators"},
            },
        }
    )
    assert len(alerts(r)) == len(ALERTS)
    assert alerts(r)["CognitoMfaWatchErrors"]["annotations"]["runbook_url"] == "https://runbooks.example.com/cognitomfawatcherrors"
    assert r.one("ConfigMap", f"{RELEASE}-dashboard")["metadata"]["labels"]["grafana_dashboard"] == ""
