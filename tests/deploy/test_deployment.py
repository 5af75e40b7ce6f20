"""The production deployment, checked statically: docker-compose (Debian's `docker-compose config`) with the
secrets `deploy/make-dev-secrets.py` makes, the kustomize overlay (`kubectl kustomize`) against the
Kubernetes JSON schemas (kubernetes-validate), the image's Dockerfile, and every AXIS_* variable they set
read back through `axis.settings.load_settings`, so each one is a setting the code reads.

No container runs here (no Docker engine); what runs is each tool's own parser and validator.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from axis.cli import main as axis_cli
from axis.settings import Settings, load_settings
from axis.transport import kafka_security

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.32.0"
AXIS_SERVICES = {"axis-setup", "router-1", "router-2", "stats", "console", "agent"}
SETTING_VARIABLES = {"AXIS_CONFIG"} | {f"AXIS_{f.name.upper()}" for f in dataclasses.fields(Settings)}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `make install-test` installs it (see the Makefile)")
    return path


@pytest.fixture(scope="module")
def deploy_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/ with fresh development secrets (the real deploy/secrets/ is never touched)."""
    copy = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("secrets"))
    subprocess.run([sys.executable, str(copy / "make-dev-secrets.py"), "--agency", "000.00.00.G22"],
                   check=True, capture_output=True, text=True)
    return copy


@pytest.fixture(scope="module")
def compose(deploy_copy: Path) -> dict[str, Any]:
    done = subprocess.run([_tool("docker-compose"), "-f", str(deploy_copy / "docker-compose.yml"), "config"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    done = subprocess.run([_tool("kubectl"), "kustomize", "--load-restrictor", "LoadRestrictionsNone",
                           str(DEPLOY / "k8s/overlays/production")], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # `KEY=value` items
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _containers(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    spec = doc.get("spec", {})
    pod = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}).get("spec", {})
    yield from pod.get("containers", [])


# --- docker-compose ------------------------------------------------------------------------------------

def test_compose_runs_kafka_with_sasl_ssl_postgres_the_axis_services_and_monitoring(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka-1", "kafka-2", "kafka-3", "kafka-users", "postgres", "prometheus", "alertmanager",
            "grafana"} | AXIS_SERVICES <= set(services)
    for name in ("kafka-1", "kafka-2", "kafka-3"):
        env = _environment(services[name])
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert set(re.findall(r":(\w+)", env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"])) == {"SASL_SSL"}
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false" and "StandardAuthorizer" in env[
            "KAFKA_AUTHORIZER_CLASS_NAME"]
    routers = [s for s in services.values() if s.get("command", [None])[0] == "router"]
    assert len(routers) == 2
    commands = {name: services[name]["command"][0] for name in AXIS_SERVICES - {"axis-setup"}}
    assert set(commands.values()) <= set(axis_cli.commands)  # `axis router`, `axis stats`, ... exist
    build = services["router-1"]["build"]
    assert (Path(build["context"]) / build["dockerfile"]).is_file()


def test_every_file_compose_mounts_exists_once_the_secrets_are_made(compose: dict[str, Any], deploy_copy: Path) -> None:
    sources = [Path(str(v).split(":")[0]) if isinstance(v, str) else Path(v["source"])
               for service in compose["services"].values() for v in service.get("volumes", [])
               if (v.get("type") == "bind" if isinstance(v, dict) else str(v).startswith("/"))]
    sources += [Path(secret["file"]) for secret in compose["secrets"].values()]
    assert sources and all(source.exists() for source in sources), [s for s in sources if not s.exists()]
    assert {p.name for p in (deploy_copy / "secrets/kafka").iterdir()} >= {
        "ca.pem", "kafka-1.keystore.p12", "kafka-2.keystore.p12", "kafka-3.keystore.p12", "keystore_creds",
        "kafka_server_jaas.conf", "admin.properties", "create-scram-users.sh"}


def test_each_axis_service_of_compose_loads_its_settings_as_a_secured_kafka_client(compose: dict[str, Any]) -> None:
    for name in AXIS_SERVICES:
        env = _environment(compose["services"][name])
        assert set(env) - {"AGENCY_ID", "AGENCY_NAME"} <= SETTING_VARIABLES, (name, set(env) - SETTING_VARIABLES)
        settings = load_settings(env)
        assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_replication_factor == 3
        if name != "console":  # the console reads only PostgreSQL
            assert settings.kafka_sasl_username and settings.kafka_sasl_password
    setup = load_settings(_environment(compose["services"]["axis-setup"]))
    assert (setup.kafka_sasl_mechanism, setup.kafka_sasl_username) == ("PLAIN", "admin")
    agent = load_settings(_environment(compose["services"]["agent"]))
    assert (agent.kafka_sasl_mechanism, agent.kafka_sasl_username) == ("SCRAM-SHA-512", "agent.000.00.00.G22")
    assert agent.database_url is None  # agents never connect to PostgreSQL


# --- Kubernetes ----------------------------------------------------------------------------------------

def test_the_production_overlay_builds_and_every_resource_is_valid_kubernetes(k8s: list[dict[str, Any]]) -> None:
    for doc in k8s:
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], doc
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        for container in _containers(doc):
            assert container["image"], (doc["metadata"]["name"], container["name"])
            if "axis-exchange" in container["image"]:
                assert container["args"][0] in axis_cli.commands, container["args"]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in k8s}
    assert {("StatefulSet", "kafka"), ("StatefulSet", "postgres"), ("Deployment", "axis-router"),
            ("Deployment", "axis-stats"), ("Deployment", "axis-console"), ("StatefulSet", "axis-agent"),
            ("Job", "axis-kafka-acls"), ("Job", "kafka-scram-users"), ("Deployment", "prometheus"),
            ("Deployment", "alertmanager"), ("Deployment", "grafana")} <= kinds
    assert all(d["metadata"].get("namespace") == "axis" for d in k8s if d["kind"] != "Namespace")
    router = next(d for d in k8s if (d["kind"], d["metadata"]["name"]) == ("Deployment", "axis-router"))
    assert router["spec"]["replicas"] == 3  # the overlay's patch
    assert next(_containers(router))["image"] == "registry.example.org/axis/axis-exchange:0.1.0"


def test_every_configmap_a_pod_names_is_in_the_build(k8s: list[dict[str, Any]]) -> None:
    built = {d["metadata"]["name"] for d in k8s if d["kind"] == "ConfigMap"}
    named = set()
    for doc in k8s:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        named |= {v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v}
        named |= {e["configMapRef"]["name"] for c in _containers(doc) for e in c.get("envFrom", [])
                  if "configMapRef" in e}
    assert named and named <= built, named - built


def test_each_axis_pod_loads_its_settings_from_the_configmap_and_its_secret(
    k8s: list[dict[str, Any]], deploy_copy: Path
) -> None:
    """The Secrets are made from make-dev-secrets.py's env files (`kubectl create secret --from-env-file`)."""
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in k8s if d["kind"] == "ConfigMap"}
    env_files = {f"axis-{p.stem.split('-')[0]}": dict(line.split("=", 1) for line in p.read_text().splitlines())
                 for p in (deploy_copy / "secrets/env").glob("*.env")}
    checked = 0
    for doc in k8s:
        for container in _containers(doc):
            if "axis-exchange" not in container["image"]:
                continue
            env: dict[str, str] = {}
            for source in container["envFrom"]:
                if "configMapRef" in source:
                    env.update(configmaps[source["configMapRef"]["name"]])
                else:
                    env.update(env_files[source["secretRef"]["name"]])
            assert set(env) <= SETTING_VARIABLES, set(env) - SETTING_VARIABLES
            settings = load_settings(env)
            if container["args"][0] != "console":
                assert kafka_security(settings.replace(kafka_ssl_cafile=None)).protocol == "SASL_SSL"
            checked += 1
    assert checked == 5  # routers, stats, console, agent, the ACL job


def test_the_grafana_dashboards_of_compose_are_all_in_the_k8s_configmap(k8s: list[dict[str, Any]]) -> None:
    dashboards = next(d for d in k8s if d["metadata"]["name"].startswith("grafana-dashboards"))
    assert set(dashboards["data"]) == {p.name for p in (DEPLOY / "grafana/dashboards").glob("*.json")}


# --- the image -----------------------------------------------------------------------------------------

def test_the_dockerfile_installs_the_project_and_sets_only_settings() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text and 'ENTRYPOINT ["axis"]' in text
    copied = [source for line in text.splitlines() if line.startswith("COPY ") for source in line.split()[1:-1]]
    assert copied and all((ROOT / source).exists() for source in copied), copied
    variables = set(re.findall(r"\b(AXIS_[A-Z_]+)=", text))
    assert variables and variables <= SETTING_VARIABLES


def test_the_hosts_config_file_names_only_settings_and_points_at_the_secured_listeners() -> None:
    settings = load_settings({}, config_file=DEPLOY / "axis.toml")
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_replication_factor == 3
    assert settings.kafka_bootstrap == "localhost:9092,localhost:9094,localhost:9096"
