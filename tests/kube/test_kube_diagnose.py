"""kube.diagnose on the seed's manifest, the fixed variant, and each rule on its own fault."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from kube.cli import main
from kube.diagnose import RULES, Options, diagnose
from kube.manifests import load_variant, pod_spec, render
from tests.kube.conftest import K8S, REGISTRY, ROOT

#: What the seed's manifest must show: (rule, object).
SEED_EXPECTED = {
    ("image-pull-never", "Deployment/counter-app"),
    ("image-localhost-registry", "Deployment/counter-app"),
    ("k3s-loadbalancer-port-taken", "Service/counter-app-service"),
    ("no-readiness-probe", "Deployment/counter-app"),
    ("no-readiness-probe", "Deployment/redis"),
    ("no-liveness-probe", "Deployment/counter-app"),
    ("no-liveness-probe", "Deployment/redis"),
    ("redis-aof-without-volume", "Deployment/redis"),
    ("redis-as-deployment", "Deployment/redis"),
    ("no-resource-requests", "Deployment/redis"),
}


def _found(objects, options: Options | None = None) -> set[tuple[str, str]]:
    return {(f.rule, f.object) for f in diagnose(objects, options)}


def test_seed_findings() -> None:
    findings = diagnose(load_variant(K8S / "seed"))
    assert {(f.rule, f.object) for f in findings} == SEED_EXPECTED
    for f in findings:
        assert f.severity in ("error", "warning")
        assert f.message and f.message_ru and f.consequence and f.consequence_ru


def test_seed_on_a_cluster_without_traefik_keeps_port_80() -> None:
    found = _found(load_variant(K8S / "seed"), Options(k3s_traefik=False))
    assert found == SEED_EXPECTED - {("k3s-loadbalancer-port-taken", "Service/counter-app-service")}


def test_the_fixed_variant_is_clean() -> None:
    assert diagnose(load_variant(K8S / "lab")) == []
    assert diagnose(render(load_variant(K8S / "lab"), REGISTRY)) == []


def _counter(lab) -> dict:
    return pod_spec(lab["Deployment/counter-app"])["containers"][0]


def _redis(lab) -> dict:
    return pod_spec(lab["StatefulSet/redis"])["containers"][0]


def _redis_as_deployment(lab) -> None:
    sts = lab.pop("StatefulSet/redis")
    claim = sts["spec"].pop("volumeClaimTemplates")[0]["metadata"]["name"]
    sts["spec"].pop("serviceName")
    sts["kind"] = "Deployment"
    sts["spec"]["template"]["spec"]["volumes"] = [
        {"name": claim, "persistentVolumeClaim": {"claimName": "redis-data"}}
    ]
    lab["Deployment/redis"] = sts


def _set_arg(lab, name: str, value: str) -> None:
    args = _redis(lab)["args"]
    args[args.index(name) + 1] = value


#: rule id -> (what to break in the fixed objects, the object the finding names)
BREAKS: dict[str, tuple[Callable[[dict], object], str]] = {
    "image-pull-never": (
        lambda lab: _counter(lab).update(imagePullPolicy="Never"),
        "Deployment/counter-app",
    ),
    "image-localhost-registry": (
        lambda lab: _counter(lab).update(image="localhost:5000/counter-app:latest"),
        "Deployment/counter-app",
    ),
    "k3s-loadbalancer-port-taken": (
        lambda lab: lab["Service/counter-app-service"]["spec"]["ports"][0].update(port=443),
        "Service/counter-app-service",
    ),
    "no-readiness-probe": (
        lambda lab: _counter(lab).pop("readinessProbe"),
        "Deployment/counter-app",
    ),
    "no-liveness-probe": (
        lambda lab: _redis(lab).pop("livenessProbe"),
        "StatefulSet/redis",
    ),
    "redis-aof-without-volume": (
        lambda lab: _set_arg(lab, "--dir", "/var/lib/redis"),
        "StatefulSet/redis",
    ),
    "redis-as-deployment": (_redis_as_deployment, "Deployment/redis"),
    "service-selector-no-match": (
        lambda lab: lab["Service/redis-service"]["spec"].update(selector={"app": "redis-main"}),
        "Service/redis-service",
    ),
    "service-target-port-missing": (
        lambda lab: lab["Service/counter-app-nodeport"]["spec"]["ports"][0].update(targetPort=8080),
        "Service/counter-app-nodeport",
    ),
    "redis-host-no-service": (
        lambda lab: _counter(lab)["env"][0].update(value="redis"),
        "Deployment/counter-app",
    ),
    "no-resource-requests": (
        lambda lab: _redis(lab)["resources"].pop("requests"),
        "StatefulSet/redis",
    ),
}


def test_every_rule_has_a_break_case() -> None:
    assert sorted(rule.rule_id for rule in RULES) == sorted(BREAKS)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rule_id)
def test_each_rule_fires_on_its_fault_and_only_it(rule, lab) -> None:
    breaker, where = BREAKS[rule.rule_id]
    assert diagnose(list(lab.values())) == []
    breaker(lab)
    findings = diagnose(list(lab.values()))
    assert {(f.rule, f.object) for f in findings} == {(rule.rule_id, where)}
    # the rule alone finds it too (its findings carry its own id)
    assert [f.rule for f in rule(list(lab.values()), Options())] == [rule.rule_id]


def test_more_variants_of_the_faults(lab) -> None:
    # the named targetPort that no container declares
    lab["Service/redis-service"]["spec"]["ports"][0]["targetPort"] = "redis-port"
    # an emptyDir at the data dir is not persistent
    redis = _redis(lab)
    redis["volumeMounts"] = [{"name": "scratch", "mountPath": "/data"}]
    pod_spec(lab["StatefulSet/redis"])["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    # 127.0.0.1 is loopback too, and REDIS_HOST as name.namespace.svc resolves to the Service
    _counter(lab)["image"] = "127.0.0.1:5000/counter-app:latest"
    _counter(lab)["env"][0]["value"] = "redis-service.default.svc.cluster.local"
    assert _found(list(lab.values())) == {
        ("service-target-port-missing", "Service/redis-service"),
        ("redis-aof-without-volume", "StatefulSet/redis"),
        ("image-localhost-registry", "Deployment/counter-app"),
    }


def test_cli_json_and_exit_codes(tmp_path, capsys) -> None:
    out = tmp_path / "diag.json"
    seed, lab = K8S / "seed", K8S / "lab"
    assert main(["diagnose", str(seed), str(lab), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [v["dir"] for v in data["variants"]] == ["app/k8s/seed", "app/k8s/lab"]
    assert [v["objects"] for v in data["variants"]] == [4, 7]
    assert {(f["rule"], f["object"]) for f in data["variants"][0]["findings"]} == SEED_EXPECTED
    assert data["variants"][1]["findings"] == []
    assert set(data["variants"][0]["findings"][0]) == {
        "rule",
        "severity",
        "object",
        "message",
        "message_ru",
        "consequence",
        "consequence_ru",
    }
    assert "image-pull-never" in capsys.readouterr().out
    assert main(["diagnose", "--fail-on-findings", str(lab)]) == 0
    assert main(["diagnose", "--fail-on-findings", str(seed), str(lab)]) == 1
    assert main(["diagnose", "--no-k3s-traefik", "--json", str(out), str(seed)]) == 0
    rules = {f["rule"] for f in json.loads(out.read_text())["variants"][0]["findings"]}
    assert "k3s-loadbalancer-port-taken" not in rules
    assert main(["diagnose", str(ROOT / "app")]) == 2  # no kustomization.yaml


def test_cli_render(capsys) -> None:
    import yaml

    assert main(["render", str(K8S / "lab"), "--registry", REGISTRY, "--replicas", "3"]) == 0
    objects = list(yaml.safe_load_all(capsys.readouterr().out))
    assert objects == render(load_variant(K8S / "lab"), REGISTRY, replicas=3)
    assert main(["render", str(K8S / "lab"), "--registry", "bad/registry"]) == 2
