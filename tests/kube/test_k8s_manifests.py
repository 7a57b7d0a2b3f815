"""The app/k8s manifests: valid for the pinned k3s's Kubernetes, rendered like kubectl does,
and (the fixed variant) consistent with the real app, its images and its Redis."""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from counter import create_app
from counter.config import DEFAULTS

from kube.manifests import PLACEHOLDER_REGISTRY, load_variant, pod_spec, render
from tests.app.conftest import RedisServer, free_port
from tests.kube.conftest import K8S, REGISTRY, ROOT, VARIANTS, by_id, k3s_kubernetes_version
from tests.pathload import load

plugin = load("k8s_manifest_filter", "plugins/filter/k8s_manifest.py")


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


# --- schema and rendering ------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_validates_strictly_for_the_k3s_kubernetes(variant: str) -> None:
    version = k3s_kubernetes_version()
    objects = render(load_variant(K8S / variant), REGISTRY)
    assert objects
    for obj in objects:
        checked = kubernetes_validate.validate(obj, version, strict=True)
        # the schema of k3s's own minor release, not an older fallback
        assert checked == _major_minor(version), (obj["kind"], checked)


def test_strict_validation_rejects_an_unknown_field(lab_objects) -> None:
    deployment = render(lab_objects, REGISTRY)[[o["kind"] for o in lab_objects].index("Deployment")]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.utils.ValidationError):
        kubernetes_validate.validate(deployment, k3s_kubernetes_version(), strict=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_kubectl_kustomize_renders_what_kube_loads(variant: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / variant)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    rendered = [doc for doc in yaml.safe_load_all(out) if doc]
    assert by_id(rendered) == by_id(load_variant(K8S / variant))


def test_render_replaces_only_the_placeholder_registry_and_sets_replicas(lab_objects) -> None:
    source = load_variant(K8S / "lab")
    before = yaml.safe_dump_all(source)
    out = by_id(render(source, "registry.lab:5443", tag="abc123", replicas=2))
    assert yaml.safe_dump_all(source) == before, "render must not change its input"
    images = [c["image"] for o in out.values() if pod_spec(o) for c in pod_spec(o)["containers"]]
    assert sorted(images) == [
        "registry.lab:5443/counter-app:abc123",
        "registry.lab:5443/redis:abc123",
    ]
    assert out["Deployment/counter-app"]["spec"]["replicas"] == 2
    assert out["StatefulSet/redis"]["spec"]["replicas"] == 1
    seed = render(load_variant(K8S / "seed"), "registry.lab:5443", tag="abc123")
    assert by_id(seed)["Deployment/redis"]["spec"]["template"]["spec"]["containers"][0][
        "image"
    ] == ("redis:7-alpine")


@pytest.mark.parametrize(
    ("registry", "tag", "replicas"),
    [("", "latest", None), ("h:5000/x", "latest", None), ("h:5000", "a:b", None), ("h", "t", -1)],
)
def test_render_refuses_bad_arguments(lab_objects, registry, tag, replicas) -> None:
    with pytest.raises(ValueError):
        render(lab_objects, registry, tag, replicas)


def test_the_filter_plugin_is_kube_render() -> None:
    """One implementation: kube.manifests.render is the plugin's function, and the filter
    loaded as Ansible loads it (by path) renders the same objects."""
    from kube import manifests

    assert manifests.PLUGIN_FILE == ROOT / "plugins/filter/k8s_manifest.py"
    assert Path(render.__code__.co_filename) == manifests.PLUGIN_FILE
    assert render.__name__ == "k8s_lab_objects"
    assert plugin.FilterModule().filters()["k8s_lab_objects"].__name__ == "k8s_lab_objects"
    source = load_variant(K8S / "lab")
    assert plugin.k8s_lab_objects(source, REGISTRY, "t1", 3) == render(source, REGISTRY, "t1", 3)


def test_the_manifests_name_only_the_placeholder_registry() -> None:
    for path in (K8S / "lab").glob("*.yaml"):
        for image in re.findall(r"image:\s*(\S+)", path.read_text()):
            assert image.startswith(PLACEHOLDER_REGISTRY + "/"), (path.name, image)


# --- the fixed variant against the real app -------------------------------------------------


def _pod_templates(objects: dict) -> dict[str, dict]:
    return {k: o for k, o in objects.items() if pod_spec(o) is not None}


def _selected(service: dict, objects: dict) -> list[dict]:
    selector = service["spec"]["selector"]
    return [
        o
        for o in _pod_templates(objects).values()
        if selector.items() <= o["spec"]["template"]["metadata"]["labels"].items()
    ]


def test_services_select_pods_and_their_target_ports_exist(lab) -> None:
    services = [o for o in lab.values() if o["kind"] == "Service"]
    assert {s["metadata"]["name"] for s in services} == {
        "counter-app-service",
        "counter-app-nodeport",
        "redis-service",
        "redis-headless",
    }
    for service in services:
        selected = _selected(service, lab)
        assert selected, service["metadata"]["name"]
        ports = [p for o in selected for c in pod_spec(o)["containers"] for p in c["ports"]]
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            key = "name" if isinstance(target, str) else "containerPort"
            assert any(p.get(key) == target for p in ports), (service["metadata"]["name"], port)


def test_service_types_and_ports(lab) -> None:
    lb = lab["Service/counter-app-service"]["spec"]
    assert lb["type"] == "LoadBalancer"
    assert [p["port"] for p in lb["ports"]] == [8080]
    nodeport = lab["Service/counter-app-nodeport"]["spec"]
    assert nodeport["type"] == "NodePort"
    assert [(p["port"], p["targetPort"], p["nodePort"]) for p in nodeport["ports"]] == [
        (80, "http", 30080)
    ]
    assert lab["Service/redis-headless"]["spec"]["clusterIP"] == "None"
    assert lab["StatefulSet/redis"]["spec"]["serviceName"] == "redis-headless"


def _app_port() -> int:
    """The port gunicorn binds in the image: app/gunicorn.conf.py's default (the Dockerfile
    sets no GUNICORN_BIND)."""
    assert "GUNICORN_BIND" not in (ROOT / "app/Dockerfile").read_text()
    conf = runpy.run_path(str(ROOT / "app/gunicorn.conf.py"), init_globals={})
    return int(conf["bind"][0].rsplit(":", 1)[1])


def _counter(lab) -> dict:
    return pod_spec(lab["Deployment/counter-app"])["containers"][0]


def test_container_port_is_the_port_the_app_binds(lab, monkeypatch) -> None:
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    assert _counter(lab)["ports"] == [
        {"name": "http", "containerPort": _app_port(), "protocol": "TCP"}
    ]


def test_run_as_the_image_user(lab) -> None:
    uid = int(re.search(r"^ARG APP_UID=(\d+)$", (ROOT / "app/Dockerfile").read_text(), re.M)[1])
    context = pod_spec(lab["Deployment/counter-app"])["securityContext"]
    assert context == {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid}


def test_every_env_name_is_a_setting_of_the_app(lab) -> None:
    names = [e["name"] for e in _counter(lab)["env"]]
    assert names and set(names) <= set(DEFAULTS)
    assert {"REDIS_HOST", "REDIS_PORT", "REDIS_DB"} <= set(names)
    env = {e["name"]: e["value"] for e in _counter(lab)["env"]}
    assert f"Service/{env['REDIS_HOST']}" in lab
    redis_ports = [p["port"] for p in lab[f"Service/{env['REDIS_HOST']}"]["spec"]["ports"]]
    assert int(env["REDIS_PORT"]) in redis_ports


def _probe_config(lab, redis_port: int) -> dict[str, object]:
    """create_app() settings: the manifest's env, with REDIS_HOST/PORT the real server."""
    env = {e["name"]: e["value"] for e in _counter(lab)["env"]}
    return {**env, "TESTING": True, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_port)}


def test_probes_answer_200_on_the_real_app_with_redis(lab, redis_server: RedisServer) -> None:
    container = _counter(lab)
    client = create_app(_probe_config(lab, redis_server.port)).test_client()
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["port"] == "http"
        assert client.get(get["path"]).status_code == 200, probe


def test_liveness_does_not_depend_on_redis_readiness_does(lab) -> None:
    """With no Redis behind REDIS_HOST/PORT: alive (no restart loop), not ready."""
    container = _counter(lab)
    client = create_app({**_probe_config(lab, free_port()), "REDIS_RETRIES": 0}).test_client()
    assert client.get(container["livenessProbe"]["httpGet"]["path"]).status_code == 200
    assert client.get(container["readinessProbe"]["httpGet"]["path"]).status_code == 503


def test_images_are_pushed_by_app_images(lab) -> None:
    defaults = yaml.safe_load((ROOT / "roles/app_images/defaults/main.yml").read_text())
    pushed = {item["name"] for item in defaults["app_images_list"]}
    images = {c["image"] for o in _pod_templates(lab).values() for c in pod_spec(o)["containers"]}
    assert images == {f"{REGISTRY}/counter-app:latest", f"{REGISTRY}/redis:latest"}
    for image in images:
        assert image.removeprefix(f"{REGISTRY}/").rsplit(":", 1)[0] in pushed


def test_pdb_selects_the_deployment_and_lets_a_drain_proceed(lab) -> None:
    pdb = lab["PodDisruptionBudget/counter-app"]["spec"]
    deployment = lab["Deployment/counter-app"]["spec"]
    labels = deployment["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["selector"] == deployment["selector"]
    # maxUnavailable 1 allows one eviction even at 1 replica (minAvailable 1 would allow none)
    assert pdb == {"maxUnavailable": 1, "selector": pdb["selector"]}


def test_rollout_and_spread(lab) -> None:
    spec = lab["Deployment/counter-app"]["spec"]
    assert spec["replicas"] == 4
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 2, "maxUnavailable": 0}
    spread = spec["template"]["spec"]["topologySpreadConstraints"]
    assert spread[0]["topologyKey"] == "kubernetes.io/hostname"
    assert spread[0]["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread[0]["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
    assert _counter(lab)["resources"] == {
        "limits": {"cpu": "500m", "memory": "512Mi"},
        "requests": {"cpu": "250m", "memory": "256Mi"},
    }


def _redis_args(lab) -> list[str]:
    container = pod_spec(lab["StatefulSet/redis"])["containers"][0]
    assert "command" not in container, "the image's entrypoint must stay (protected mode off)"
    return container["args"]


def test_redis_pvc_is_mounted_where_the_aof_is_written(lab) -> None:
    sts = lab["StatefulSet/redis"]
    args = _redis_args(lab)
    assert args[0] == "redis-server"
    assert args[args.index("--appendonly") + 1] == "yes"
    data_dir = args[args.index("--dir") + 1]
    claims = {t["metadata"]["name"]: t["spec"] for t in sts["spec"]["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in pod_spec(sts)["containers"][0]["volumeMounts"]}
    assert {name: mounts.get(name) for name in claims} == {"data": data_dir}
    assert "storageClassName" not in claims["data"]
    assert claims["data"]["resources"]["requests"]["storage"] == "1Gi"


def test_redis_args_run_on_a_real_redis_server_and_write_the_aof(lab, tmp_path: Path) -> None:
    """The manifest's redis-server arguments, with --dir pointed at a temporary directory."""
    args = _redis_args(lab)[1:]
    args[args.index("--dir") + 1] = str(tmp_path)
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH")
    server = RedisServer(args=args)
    try:
        server.start()
        client = server.client(decode_responses=True)
        try:
            assert client.config_get("appendonly") == {"appendonly": "yes"}
            assert client.config_get("dir") == {"dir": str(tmp_path)}
            client.incr("hits")
        finally:
            client.close()
    finally:
        server.close()
    assert any(p.name.startswith("appendonly") for p in tmp_path.iterdir())
