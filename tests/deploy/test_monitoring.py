"""The operators' monitoring in deploy/: alert rules, their unit tests, Prometheus, Alertmanager and Grafana.

promtool (Debian package `prometheus`) and amtool (`prometheus-alertmanager`) check the files as Prometheus and
Alertmanager would read them; `make install-test` installs both. Nothing here skips for want of them: a missing
tool fails with a message that says how to get it.

The metric names and labels the alerts and dashboards use are checked against what the code exposes: the
router's, an agent's and the stats app's collectors are built in process (with fakes for what they read at a
scrape) and their families read, so a renamed metric breaks this test and not a night's paging.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from prometheus_client.core import Metric
from prometheus_client.registry import CollectorRegistry

from agents.metrics import AgentMetrics
from axis.metrics import RouterCollector
from axis.router._metrics import Latency, RouterMetrics
from axis.stats import Figures
from axis.stats._http import StatsCollector

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
PROMETHEUS_CONFIG = PROMETHEUS / "prometheus.yml"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
COMPOSE = DEPLOY / "docker-compose.yml"

SEVERITY_RECEIVERS = {"critical": "on-call", "warning": "operators", "info": "daily-digest"}
# Grafana's variables, replaced by something PromQL parses.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$instance": ".*"}
_TOOLS = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `make install-test` installs it as root, or run "
                    f"`apt-get install {_TOOLS[name]}` (Debian package {_TOOLS[name]})", pytrace=False)
    return path


def _run(*args: str | Path) -> str:
    """Run a tool; fail with its whole output unless it exits 0. Returns stdout."""
    done = subprocess.run([str(a) for a in args], check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _yaml(ALERTS)["groups"] for rule in group["rules"]]


def _alert_names() -> set[str]:
    return {rule["alert"] for rule in _rules()}


# --- promtool and amtool -------------------------------------------------------------------------------


def test_alert_rules_pass_promtool_check() -> None:
    out = _run(_tool("promtool"), "check", "rules", ALERTS)
    assert f"SUCCESS: {len(_rules())} rules found" in out


def test_alert_rules_pass_their_unit_tests() -> None:
    out = _run(_tool("promtool"), "test", "rules", ALERT_TESTS)
    assert "SUCCESS" in out


def test_prometheus_config_passes_promtool_check_with_its_rule_file() -> None:
    out = _run(_tool("promtool"), "check", "config", PROMETHEUS_CONFIG)
    assert "1 rule files found" in out and f"{len(_rules())} rules found" in out


def test_prometheus_scrapes_the_router_the_agents_and_the_stats_app_and_alerts_alertmanager() -> None:
    config = _yaml(PROMETHEUS_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"axis-router", "axis-agents", "axis-stats"} <= set(jobs)
    assert [(PROMETHEUS_CONFIG.parent / f).resolve() for f in config["rule_files"]] == [ALERTS]
    targets = [t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]]
    assert targets == ["alertmanager:9093"]


def test_alertmanager_config_passes_amtool_check() -> None:
    out = _run(_tool("amtool"), "check-config", ALERTMANAGER_CONFIG)
    assert "SUCCESS" in out


def test_every_alert_reaches_the_receiver_of_its_severity() -> None:
    amtool = _tool("amtool")
    examples = {rule["labels"]["severity"]: rule["alert"] for rule in _rules()}  # routes look at severity only
    assert set(examples) == set(SEVERITY_RECEIVERS)
    for severity, alert in sorted(examples.items()):
        out = _run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
                   f"alertname={alert}", f"severity={severity}")
        assert out.split() == [SEVERITY_RECEIVERS[severity]], (alert, out)


def test_inhibit_rules_name_alerts_that_exist() -> None:
    names = _alert_names()
    for inhibit in _yaml(ALERTMANAGER_CONFIG)["inhibit_rules"]:
        for matcher in inhibit["source_matchers"] + inhibit["target_matchers"]:
            found = re.fullmatch(r'alertname(=~|=)"([^"]*)"', matcher)
            if found is None:
                continue
            op, value = found.groups()
            wanted = value.split("|") if op == "=~" else [value]
            assert set(wanted) <= names, f"inhibit rule names unknown alerts: {set(wanted) - names}"


# --- the rules themselves ------------------------------------------------------------------------------


def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook() -> None:
    for rule in _rules():
        assert rule["labels"]["severity"] in SEVERITY_RECEIVERS, rule["alert"]
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, rule["alert"]
        assert annotations["runbook_url"] == f"README.md#{rule['alert'].lower()}"
        assert len(annotations["description"]) > 80, f"{rule['alert']}: say what it means and what to do"


def test_every_alert_has_a_case_where_it_fires_and_one_where_it_must_not() -> None:
    fires: Counter[str] = Counter()
    quiet: Counter[str] = Counter()
    for case in _yaml(ALERT_TESTS)["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet)[check["alertname"]] += 1
    for name in _alert_names():
        assert fires[name] and quiet[name], f"{name}: fires in {fires[name]} checks, stays quiet in {quiet[name]}"
    assert set(fires) | set(quiet) <= _alert_names(), "a unit test names an alert that does not exist"


def _runbook_text() -> str:
    """Operators read the runbooks in the README ("For operators")."""
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _github_anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_runbook_anchor_is_a_heading_for_operators() -> None:
    anchors = {_github_anchor(h) for h in re.findall(r"^#+ (.+)$", _runbook_text(), flags=re.MULTILINE)}
    for rule in _rules():
        anchor = rule["annotations"]["runbook_url"].partition("#")[2]
        assert anchor in anchors, f"{rule['alert']}: no heading for #{anchor} in README.md"


# --- metric names: what the code exposes ---------------------------------------------------------------


def _router_registry() -> CollectorRegistry:
    metrics = RouterMetrics()
    metrics.refused["signature"] += 1
    metrics.signature_failures["expired"] += 1
    metrics.consumer_lag = 0
    metrics.batch(1, 0.01, [Latency("delivery", 0.5), Latency("receipt", 2.0, code="01")])
    # What RouterCollector reads of a router; a collector that reads more fails here by name (add it).
    router = SimpleNamespace(metrics=metrics, healthy=True, leader=True, errors=SimpleNamespace(total=0, failing=dict))
    collector = RouterCollector(router)  # type: ignore[arg-type]  # a fake: what the collector reads
    collector.overdue = 0
    collector.soonest_expiry = datetime.now(UTC) + timedelta(days=90)
    metrics.registry.register(collector)
    return metrics.registry


def _agent_registry() -> CollectorRegistry:
    metrics = AgentMetrics()
    metrics.submitted("api", "accepted")
    metrics.facade_call("getEdoc", "ok")
    metrics.receipts_sent["01"] += 1
    return metrics.registry()


def _stats_registry() -> CollectorRegistry:
    figures = Figures()
    figures.add("sent")
    figures.add("to_01", 5.0)
    figures.add("to_03", 600.0)
    engine = SimpleNamespace(ready=True, facts=3, duplicates=0, malformed=0,
                             figures=lambda window, at: {"000.00.00.G22": figures})
    service = SimpleNamespace(engine=engine, health=lambda: {"status": "ok"}, rebuilds=1, epochs_seen=0,
                              overdue={"000.00.00.H41": Counter({"01": 1, "03": 2})}, clock=lambda: datetime.now(UTC))
    registry = CollectorRegistry()
    registry.register(StatsCollector(service))  # type: ignore[arg-type]  # a fake: what the collector reads
    return registry


def _registries() -> dict[str, CollectorRegistry]:
    """The code's registries, by the scrape job that reads them."""
    return {"axis-router": _router_registry(), "axis-agents": _agent_registry(), "axis-stats": _stats_registry()}


def _families() -> list[Metric]:
    return [family for registry in _registries().values() for family in registry.collect()]


def _exposed() -> dict[str, set[str]]:
    """Every series name the code exposes (histograms as _bucket, _sum, _count), with the labels a series of it
    carries in Prometheus: its own, job and instance, and the target labels prometheus.yml gives its job."""
    targets = _target_labels()
    names: dict[str, set[str]] = {"up": set().union(*targets.values())}  # Prometheus's own, on every target
    for job, registry in _registries().items():
        for family in registry.collect():
            assert family.samples, f"{family.name}: the fakes should make every family show a sample"
            for sample in family.samples:
                names.setdefault(sample.name, set()).update(sample.labels, targets[job])
    return names


def _target_labels() -> dict[str, set[str]]:
    """job, instance and the labels prometheus.yml gives the targets of each job."""
    labels: dict[str, set[str]] = {}
    for job in _yaml(PROMETHEUS_CONFIG)["scrape_configs"]:
        labels[job["job_name"]] = {"job", "instance"}
        for static in job.get("static_configs", []):
            labels[job["job_name"]].update(static.get("labels", {}))
    return labels


def _dashboard_exprs() -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every panel target of every dashboard."""
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in _panels(board):
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]


def _panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def _queries() -> list[tuple[str, str]]:
    alerts = [(f"alerts.yml: {rule['alert']}", rule["expr"]) for rule in _rules()]
    variables = [(f"{path.name}: variable {v['name']}", v["definition"])
                 for path in DASHBOARDS for v in json.loads(path.read_text())["templating"]["list"]]
    return alerts + list(_dashboard_exprs()) + variables


def _without_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def test_every_metric_the_alerts_and_dashboards_use_is_exposed_by_the_code() -> None:
    exposed = _exposed()
    queries = _queries()
    assert len(queries) > 40
    for where, expr in queries:
        used = set(re.findall(r"\b(axis_[a-z0-9_]+|up)\b", _without_strings(expr)))
        assert used, f"{where}: no metric in {expr!r}"
        unknown = used - set(exposed)
        assert not unknown, f"{where}: {sorted(unknown)} not exposed by the code (known: {sorted(exposed)})"


def test_every_label_the_alerts_and_dashboards_use_is_one_their_metrics_carry() -> None:
    exposed = _exposed()
    for where, expr in _queries():
        for name, matchers in re.findall(r"\b(axis_[a-z0-9_]+|up)\s*\{([^}]*)\}", expr):
            used = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", _without_strings(matchers)))
            assert used <= exposed[name], f"{where}: {name} has no label {used - exposed[name]}"
        metrics = set(re.findall(r"\b(axis_[a-z0-9_]+|up)\b", _without_strings(expr)))
        carried = set().union(*(exposed.get(m, set()) for m in metrics))
        for grouping in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
            used = {label.strip() for label in grouping.split(",") if label.strip()}
            assert used <= carried, f"{where}: groups by {used - carried}, which none of {sorted(metrics)} carries"


def test_every_metric_the_code_exposes_is_explained_to_operators() -> None:
    text = _runbook_text()
    for family in _families():
        name = f"{family.name}_total" if family.type == "counter" else family.name
        assert f"`{name}`" in text, f"{name} is not in the operators' metric table (README.md)"


# --- Grafana -------------------------------------------------------------------------------------------


def test_every_dashboard_parses_and_every_panel_has_a_datasource_and_queries() -> None:
    assert DASHBOARDS, "no dashboard in deploy/grafana/dashboards/"
    datasource_uids = {d["uid"] for d in _yaml(GRAFANA / "provisioning/datasources/prometheus.yml")["datasources"]}
    uids = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        uids.append(board["uid"])
        panels = [p for p in _panels(board) if p["type"] != "row"]
        assert len(panels) >= 5, path.name
        assert len({p["id"] for p in _panels(board)}) == len(list(_panels(board))), f"{path.name}: panel ids repeat"
        for panel in panels:
            where = f"{path.name}: {panel.get('title')!r}"
            assert panel.get("title") and panel.get("description"), where
            assert panel["datasource"]["uid"] in datasource_uids, where
            assert panel["targets"], f"{where} has no query"
            for target in panel["targets"]:
                assert target["expr"].strip() and target["datasource"]["uid"] in datasource_uids, where
    assert len(set(uids)) == len(uids), "two dashboards share a uid"


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = []
    for i, (where, expr) in enumerate(_dashboard_exprs()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{where}: a Grafana variable this test does not know: {expr}"
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    out = _run(_tool("promtool"), "check", "rules", path)
    assert f"SUCCESS: {len(rules)} rules found" in out


def test_overview_dashboard_shows_what_operators_asked_for() -> None:
    text = (GRAFANA / "dashboards" / "axis-overview.json").read_text(encoding="utf-8")
    for metric in ("axis_router_accepted_total", "axis_delivery_latency_seconds_bucket",
                   "axis_receipt_latency_seconds_bucket", "axis_stats_overdue_receipts", "axis_overdue_receipts",
                   "axis_router_refused_total", "axis_router_consumer_lag_records",
                   "axis_agent_outbox_oldest_pending_age_seconds", "axis_agent_outbox_pending",
                   "axis_router_healthy", "axis_router_degraded", "axis_certificate_expiry_seconds"):
        assert metric in text, metric


def test_grafana_provider_reads_the_directory_compose_mounts() -> None:
    provider = _yaml(GRAFANA / "provisioning/dashboards/axis.yml")["providers"][0]
    services = _yaml(COMPOSE)["services"]
    mounts = _mounts(services["grafana"]["volumes"])
    assert mounts.get("./grafana/dashboards") == provider["options"]["path"]
    assert mounts.get("./grafana/provisioning") == "/etc/grafana/provisioning"
    prometheus = _mounts(services["prometheus"]["volumes"])
    assert prometheus.get("./prometheus/alerts.yml") == "/etc/prometheus/alerts.yml"  # beside prometheus.yml
    assert prometheus.get("./prometheus/prometheus.yml") == "/etc/prometheus/prometheus.yml"
    assert _mounts(services["alertmanager"]["volumes"]).get("./alertmanager/alertmanager.yml") == \
        "/etc/alertmanager/alertmanager.yml"


def _mounts(volumes: Iterable[str]) -> dict[str, str]:
    return {source: target for source, target, *_ in (v.split(":") for v in volumes)}
