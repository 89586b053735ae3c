"""The Kubernetes manifests (k8s/) agree with the settings, compose.yaml and the image; no cluster runs
here, so this is what can be checked: names, ports, commands, credentials, replica counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from lakehouse.settings import ENV_NESTED_DELIMITER, ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = [d for f in sorted((ROOT / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in DOCS if d["kind"] == kind]


def containers() -> list[dict[str, Any]]:
    pods = [d["spec"]["template"]["spec"] for d in of_kind("Deployment") + of_kind("Job")]
    return [c for p in pods for c in p["containers"]]


def setting(name: str) -> Any:
    """The default value of the setting a HARMONY_ variable names (the section's field)."""
    path = name.removeprefix(ENV_PREFIX).lower().split(ENV_NESTED_DELIMITER)
    fields = Settings.model_fields
    assert path[0] in fields, name
    if len(path) == 1:
        return fields[path[0]].default
    section = fields[path[0]].annotation
    assert path[1] in section.model_fields, name  # type: ignore[union-attr]
    return section.model_fields[path[1]].default  # type: ignore[union-attr]


def test_config_map_keys_are_settings_and_ports_their_defaults() -> None:
    (config,) = of_kind("ConfigMap")
    for key, value in config["data"].items():
        default = setting(key)
        if key.endswith("__PORT") or key.endswith("__PARTITIONS"):
            assert int(value) == default, key


def test_credentials_come_only_from_the_secret() -> None:
    secret_fields = {
        f"{ENV_PREFIX}{section.upper()}{ENV_NESTED_DELIMITER}{field.upper()}"
        for section, info in Settings.model_fields.items()
        if isinstance(info.annotation, type) and hasattr(info.annotation, "model_fields")
        for field, f in info.annotation.model_fields.items()
        if f.annotation is SecretStr
    }
    assert secret_fields, "the settings have credentials"
    (config,) = of_kind("ConfigMap")
    assert not secret_fields & set(config["data"]), "no credential in the ConfigMap"
    assert not of_kind("Secret"), "no Secret in the repository: it is created from .env"
    for c in containers():
        refs = {next(iter(r)): r[next(iter(r))]["name"] for r in c["envFrom"]}
        assert refs == {"configMapRef": "harmony-config", "secretRef": "harmony-credentials"}, c["name"]


def test_processors_match_compose_commands_and_replicas() -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment")}
    processors = [s for s in COMPOSE.values() if "processors" in s.get("profiles", [])]
    compose_counts: dict[str, int] = {}
    for svc in processors:
        cmd = " ".join(svc["command"])
        compose_counts[cmd] = compose_counts.get(cmd, 0) + 1
    k8s_counts = {
        " ".join(d["spec"]["template"]["spec"]["containers"][0]["command"]): d["spec"]["replicas"]
        for d in deployments.values()
    }
    assert k8s_counts == compose_counts
    for c in containers():
        assert c["image"] == "harmony-lakehouse:latest"


def test_dashboard_port_and_probes(settings: Settings) -> None:
    (dash,) = [c for c in containers() if c["name"] == "dashboard"]
    assert dash["ports"][0]["containerPort"] == settings.dashboard.port
    (service,) = of_kind("Service")
    assert service["spec"]["ports"][0]["port"] == settings.dashboard.port
    for c in containers():
        probe = c.get("readinessProbe", {})
        if "exec" in probe:
            assert probe["exec"]["command"][:3] == ["harmony", "stack", "ping"], c["name"]


def test_spark_job_runs_analyze_on_kubernetes() -> None:
    (job,) = of_kind("Job")
    args = " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "harmony analyze --master k8s://" in args
    assert "spark.kubernetes.container.image=harmony-lakehouse:latest" in args
