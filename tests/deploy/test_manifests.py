"""deploy/: Kubernetes manifests checked against the Kubernetes API schemas (kubernetes-validate,
which ships the OpenAPI schemas, so this runs offline), the instance configs against Dagster's
own instance schema, and the pieces checked against each other.

Not covered here, because no part of it can run on this machine: building the image (no Docker
daemon) and applying the manifests to a cluster."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31.0"


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
ALL = {(p.name, i): d for p in MANIFESTS for i, d in enumerate(_docs(p))}


def _by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in ALL.values() if d["kind"] == kind}


@pytest.mark.parametrize("key", sorted(ALL), ids=[f"{f}#{i}" for f, i in sorted(ALL)])
def test_manifest_matches_the_kubernetes_schema(key):
    # strict: an unknown field (a typo such as `volumeMount`) fails too.
    kubernetes_validate.validate(ALL[key], KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_applied_together():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    applied_separately = {"secrets.example.yaml", "migrate-job.yaml"}
    assert listed == {p.name for p in MANIFESTS} - applied_separately


def _instance_yaml(tmp_path: Path, text: str) -> dict:
    (tmp_path / "dagster.yaml").write_text(text)
    config, _ = dagster_instance_config(str(tmp_path))
    return dict(config)


@pytest.mark.parametrize(
    "source", ["dagster.yaml", "instance/dagster.postgres.yaml", "deploy/k8s/instance.yaml"]
)
def test_instance_configs_pass_dagsters_instance_schema(tmp_path: Path, source: str):
    if source.startswith("deploy/"):
        text = _by_kind("ConfigMap")["dagster-instance"]["data"]["dagster.yaml"]
    else:
        text = (ROOT / source).read_text()
    config = _instance_yaml(tmp_path, text)
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "pipeline/source", "value": "api", "limit": 2} in limits
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False


def test_production_instance_uses_postgres_and_the_k8s_run_launcher(tmp_path: Path):
    text = _by_kind("ConfigMap")["dagster-instance"]["data"]["dagster.yaml"]
    config = _instance_yaml(tmp_path, text)
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s.launcher", "K8sRunLauncher")
    assert launcher["config"]["instance_config_map"] == "dagster-instance"
    assert launcher["config"]["service_account_name"] in _by_kind("ServiceAccount")
    assert set(launcher["config"]["env_secrets"]) <= set(_by_kind("Secret"))
    assert set(launcher["config"]["env_config_maps"]) <= set(_by_kind("ConfigMap"))
    claim = launcher["config"]["run_k8s_config"]["pod_spec_config"]["volumes"][0]
    assert claim["persistent_volume_claim"]["claim_name"] in _by_kind("PersistentVolumeClaim")


def test_workspace_points_at_the_code_server_service_and_module():
    workspace = yaml.safe_load(_by_kind("ConfigMap")["dagster-instance"]["data"]["workspace.yaml"])
    grpc = workspace["load_from"][0]["grpc_server"]
    service = _by_kind("Service")[grpc["host"]]
    assert grpc["port"] in [p["port"] for p in service["spec"]["ports"]]
    code = _by_kind("Deployment")["dq-pipeline-code"]
    command = code["spec"]["template"]["spec"]["containers"][0]["command"]
    local = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    module = local["load_from"][0]["python_module"]["module_name"]
    assert command[command.index("-m") + 1] == module
    assert command[command.index("-p") + 1] == str(grpc["port"])


def test_every_referenced_secret_and_config_map_is_declared():
    secrets, maps = set(_by_kind("Secret")), set(_by_kind("ConfigMap"))
    for deployment in [*_by_kind("Deployment").values(), *_by_kind("Job").values()]:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in maps


def test_webservers_are_only_reachable_through_the_proxy():
    services = _by_kind("Service")
    for name in ("dagster-webserver", "dagster-webserver-read-only"):
        assert services[name]["spec"].get("type", "ClusterIP") == "ClusterIP"
    read_only = _by_kind("Deployment")["dagster-webserver-read-only"]
    assert "--read-only" in read_only["spec"]["template"]["spec"]["containers"][0]["command"]
    proxy = _by_kind("Deployment")["oauth2-proxy"]["spec"]["template"]["spec"]["containers"]
    upstreams = {a.split("=", 1)[1] for c in proxy for a in c["args"] if a.startswith("--upstream")}
    assert upstreams == {
        "http://dagster-webserver.dq-pipeline.svc.cluster.local:80/",
        "http://dagster-webserver-read-only.dq-pipeline.svc.cluster.local:80/",
    }
    backends = {
        p["backend"]["service"]["name"]
        for rule in _by_kind("Ingress")["dagster"]["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert backends == {"oauth2-proxy"}


def test_settings_config_map_names_only_documented_variables():
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", (ROOT / "README.md").read_text(), re.M))
    settings = _by_kind("ConfigMap")["pipeline-settings"]["data"]
    assert set(settings) <= documented, set(settings) - documented


def test_dockerfile_copies_what_exists_and_pins_dagster_k8s_to_the_locked_release():
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        *sources, _dest = shlex.split(line)
        for source in sources:
            assert (ROOT / source).exists(), source
    lock = (ROOT / "uv.lock").read_text()
    locked = re.search(r'name = "dagster-postgres"\nversion = "([^"]+)"', lock)
    assert locked is not None
    assert f'"dagster-k8s=={locked.group(1)}"' in text
    assert '"-m", "pipeline_defs"' in text


def test_settings_config_map_is_accepted_by_the_settings_loader():
    from pipeline_defs.settings import Settings

    settings = Settings.from_env(_by_kind("ConfigMap")["pipeline-settings"]["data"])
    assert settings.partitions == "daily"
