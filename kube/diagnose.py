# ruff: noqa: RUF001  (Russian text: Cyrillic letters are intended)
"""Static diagnosis of Kubernetes manifests: what would break when they are applied.

Each rule is a small function over the objects of one variant that yields :class:`Finding`s;
:data:`RULES` lists them. No cluster is needed: the rules read the objects only. The platform
assumption (k3s with its bundled Traefik on 80/443) is a parameter, :class:`Options`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from kube.manifests import object_id, pod_spec

ERROR = "error"
WARNING = "warning"
#: Ports of the k3s-bundled Traefik, published through ServiceLB on every node.
TRAEFIK_PORTS = frozenset({80, 443})
#: Where redis-server writes its AOF/RDB without ``--dir``: its working directory, /data in
#: both the official image and the lab's (app/redis/Dockerfile WORKDIR /data).
REDIS_DEFAULT_DIR = "/data"

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, how bad, where, what (English and Russian) and what follows."""

    rule: str
    severity: str
    object: str
    message: str
    message_ru: str
    consequence: str
    consequence_ru: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Options:
    """Platform assumptions. k3s_traefik: k3s with its bundled Traefik (ServiceLB 80/443)."""

    k3s_traefik: bool = True


Rule = Callable[[Sequence[Obj], Options], Iterator[Finding]]
RuleT = TypeVar("RuleT", bound=Rule)


def rule_id(rule_name: str) -> Callable[[RuleT], RuleT]:
    """Decorator: record the id of the findings a rule yields as its ``rule_id``."""

    def mark(fn: RuleT) -> RuleT:
        fn.rule_id = rule_name  # type: ignore[attr-defined]
        return fn

    return mark


# --- helpers -------------------------------------------------------------------------------


def _workloads(objects: Sequence[Obj]) -> Iterator[tuple[Obj, dict[str, Any]]]:
    for obj in objects:
        spec = pod_spec(obj)
        if spec is not None:
            yield obj, spec


def _containers(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("containers") or [])


def _template_labels(obj: Obj) -> dict[str, Any]:
    if obj.get("kind") == "Pod":
        return dict((obj.get("metadata") or {}).get("labels") or {})
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return dict(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})


def _services(objects: Sequence[Obj]) -> list[Obj]:
    return [obj for obj in objects if obj.get("kind") == "Service"]


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _selected(service: Obj, objects: Sequence[Obj]) -> list[tuple[Obj, dict[str, Any]]]:
    selector = (service.get("spec") or {}).get("selector") or {}
    return [
        (obj, spec)
        for obj, spec in _workloads(objects)
        if selector and all(_template_labels(obj).get(k) == v for k, v in selector.items())
    ]


def _argv(container: Mapping[str, Any]) -> list[str]:
    return [str(x) for x in (container.get("command") or []) + (container.get("args") or [])]


def _image_name(image: str) -> str:
    """Repository basename without tag/digest: ``host:5000/lab/redis:7`` -> ``redis``."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def _is_redis(container: Mapping[str, Any]) -> bool:
    argv = _argv(container)
    if any(arg.rsplit("/", 1)[-1] == "redis-server" for arg in argv[:2]):
        return True
    return _image_name(str(container.get("image", ""))) == "redis"


def _registry_host(image: str) -> str | None:
    """The registry part of an image reference, or None for Docker Hub short names."""
    first, sep, _ = image.partition("/")
    if not sep:
        return None
    if "." in first or ":" in first or first == "localhost":
        return first
    return None


def _is_loopback(host: str) -> bool:
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _finding(
    rule: str, severity: str, obj: Obj, en: tuple[str, str], ru: tuple[str, str]
) -> Finding:
    return Finding(rule, severity, object_id(obj), en[0], ru[0], en[1], ru[1])


# --- rules ---------------------------------------------------------------------------------


@rule_id("image-pull-never")
def image_pull_never(objects: Sequence[Obj], options: Options) -> Iterator[Finding]:
    """imagePullPolicy: Never: the image must already be in every node's containerd store.

    k3s runs containerd, which does not see the Docker engine's images: pods stay in
    ErrImageNeverPull, no replica ever starts and every request fails.
    """
    for obj, spec in _workloads(objects):
        for c in _containers(spec):
            if c.get("imagePullPolicy") == "Never":
                yield _finding(
                    "image-pull-never",
                    ERROR,
                    obj,
                    (
                        f"container {c.get('name')}: imagePullPolicy Never for {c.get('image')}; "
                        "the image must already be in each node's containerd image store, and "
                        "k3s does not see the Docker engine's images",
                        "pods stay in ErrImageNeverPull: no replica starts, every request fails",
                    ),
                    (
                        f"контейнер {c.get('name')}: imagePullPolicy Never для {c.get('image')}; "
                        "образ должен уже быть в хранилище containerd каждого узла, а k3s не "
                        "видит образы Docker",
                        "поды остаются в ErrImageNeverPull: ни одна реплика не запускается, "
                        "все запросы завершаются ошибкой",
                    ),
                )


@rule_id("image-localhost-registry")
def image_localhost_registry(objects: Sequence[Obj], options: Options) -> Iterator[Finding]:
    """An image from localhost:/127.0.0.1: on a node, localhost is the node, not the registry.

    Every node other than the registry host (and the registry host too, unless it publishes
    the registry on loopback) fails to pull: ErrImagePull / ImagePullBackOff.
    """
    for obj, spec in _workloads(objects):
        for c in _containers(spec) + list(spec.get("initContainers") or []):
            host = _registry_host(str(c.get("image", "")))
            if host and _is_loopback(host):
                yield _finding(
                    "image-localhost-registry",
                    ERROR,
                    obj,
                    (
                        f"container {c.get('name')}: image {c.get('image')} names the registry "
                        f"{host}; for the kubelet that is the node itself, not the registry host",
                        "nodes without a registry on their own loopback cannot pull: "
                        "ErrImagePull / ImagePullBackOff",
                    ),
                    (
                        f"контейнер {c.get('name')}: образ {c.get('image')} указывает реестр "
                        f"{host}; для kubelet это сам узел, а не хост реестра",
                        "узлы без реестра на своём loopback не могут скачать образ: "
                        "ErrImagePull / ImagePullBackOff",
                    ),
                )


@rule_id("k3s-loadbalancer-port-taken")
def loadbalancer_traefik_port(objects: Sequence[Obj], options: Options) -> Iterator[Finding]:
    """A LoadBalancer on 80/443 on k3s: ServiceLB's svclb pods collide with Traefik's.

    The bundled Traefik already holds 80/443 on every node through ServiceLB, so the new
    Service's svclb pods cannot be placed and its EXTERNAL-IP stays <pending>.
    """
    if not options.k3s_traefik:
        return
    for svc in _services(objects):
        spec = svc.get("spec") or {}
        if spec.get("type") != "LoadBalancer":
            continue
        taken = sorted({int(p["port"]) for p in spec.get("ports") or []} & TRAEFIK_PORTS)
        if taken:
            ports = ", ".join(map(str, taken))
            yield _finding(
                "k3s-loadbalancer-port-taken",
                ERROR,
                svc,
                (
                    f"LoadBalancer on port {ports}, which k3s's bundled Traefik already takes "
                    "through ServiceLB on every node",
                    "the svclb pods cannot be scheduled: EXTERNAL-IP stays <pending>, the "
                    "service is unreachable on that port",
                ),
                (
                    f"LoadBalancer на порту {ports}, который уже занимает встроенный в k3s "
                    "Traefik через ServiceLB на каждом узле",
                    "поды svclb не размещаются: EXTERNAL-IP остаётся <pending>, сервис "
                    "недоступен на этом порту",
                ),
            )


def _missing_probe(
    objects: Sequence[Obj], probe: str, rule: str, severity: str, effect: str, effect_ru: str
) -> Iterator[Finding]:
    """A finding of ``rule`` for every container of a workload without ``probe``."""
    for obj, spec in _workloads(objects):
        for c in _containers(spec):
            if not c.get(probe):
                yield _finding(
                    rule,
                    severity,
                    obj,
                    (f"container {c.get('name')} has no {probe}", effect),
                    (f"у контейнера {c.get('name')} нет {probe}", effect_ru),
                )


@rule_id("no-readiness-probe")
def no_readiness_probe(objects: Sequence[Obj], options: Options) -> Iterator[Finding]:
    """A container without readinessProbe gets Service traffic as soon as it starts.

    Requests reach pods that do not serve yet (start, rollout, lost backend): errors.
    """
    return _missing_probe(
        objects,
        "readinessProbe",
        "no-readiness-probe",
        ERROR,
        "the Service sends requests to pods before they serve and to pods that "
        "lost their backend: failed requests at every start and rollout",
        "Service направляет запросы в поды до того, как они готовы, и в поды, "
        "потерявшие backend: ошибки при каждом запуске и обновлении",
    )


@rule_id("no-liveness-probe")
def no_liveness_probe(objects: Sequence[Obj], options: Options) -> Iterator[Finding]:
    """A container without livenessProbe is never restarted when it hangs (process alive)."""
    return _missing_probe(
        objects,
        "livenessProbe",
        "no-liveness-probe",
        WARNING,
        "a hung process that does not exit is never restarted",
        "зависший, но не завершившийся процесс никогда не перезапускается",
    )


def _redis_dir(argv: Sequence[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--dir" and i + 1 < len(argv):
            return argv[i + 1]
    return REDIS_DEFAULT_DIR


def _aof_on(argv: Sequence[str]) -> bool:
    for i, arg in enumerate(argv):
        if arg in ("--appendonly", "appendonly") and i + 1 < len(argv):
            return argv[i + 1].lower() == "yes"
        if arg.startswith("--appendonly=") or arg.startswith("appendonly "):
            return arg.replace("=", " ").split()[-1].lower() == "yes"
    return False


def _persistent_volumes(obj: Obj, spec: Mapping[str, Any]) -> set[str]:
    names = {
        str(v.get("name"))
        for v in spec.get("volumes") or []
        if v.get("persistentVolumeClaim") or v.get("hostPath")
    }
    if obj.get("kind") != "StatefulSet":  # only a StatefulSet has volumeClaimTemplates
        return names
    for template in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
        names.add(str((template.get("metadata") or {}).get("name")))
    return names


def _covers(mount_path: str, directory: str) -> bool:
    mount = mount_path.rstrip("/") or "/"
    return directory == mount or directory.startswith(mount.rstrip("/") + "/")


@rule_id("redis-aof-without-volume")
def redis_aof_without_volume(objects: Sequence[Obj], options: Options) -> Iterator[Finding]:
    """Redis with appendonly yes but no persistent volume at its data dir.

    The AOF is written to the container's writable layer and lost with the pod: after a
    reschedule Redis starts empty and the counter goes back to 0.
    """
    for obj, spec in _workloads(objects):
        persistent = _persistent_volumes(obj, spec)
        for c in _containers(spec):
            argv = _argv(c)
            if not (_is_redis(c) and _aof_on(argv)):
                continue
            directory = _redis_dir(argv)
            if any(
                m.get("name") in persistent and _covers(str(m.get("mountPath", "")), directory)
                for m in c.get("volumeMounts") or []
            ):
                continue
            yield _finding(
                "redis-aof-without-volume",
                ERROR,
                obj,
                (
                    f"container {c.get('name')} runs Redis with appendonly yes but no persistent "
                    f"volume is mounted at its data dir {directory}",
                    "the AOF dies with the pod: after a restart elsewhere Redis starts empty and "
                    "the count goes back to 0",
                ),
                (
                    f"контейнер {c.get('name')} запускает Redis с appendonly yes, но в каталог "
                    f"данных {directory} не смонтирован постоянный том",
                    "AOF пропадает вместе с подом: после перезапуска Redis стартует пустым и "
                    "счётчик снова равен 0",
                ),
            )


@rule_id("redis-as-deployment")
def redis_as_deployment(objects: Sequence[Obj], options: Options) -> Iterator[Finding]:
    """Redis run by a Deployment: no stable identity, its volume does not follow a pod.

    A rollout starts the new pod beside the old one (two servers, one RWO volume) and a
    Deployment has no volumeClaimTemplates: a StatefulSet is the workload for a database.
    """
    for obj, spec in _workloads(objects):
        if obj.get("kind") == "Deployment" and any(_is_redis(c) for c in _containers(spec)):
            yield _finding(
                "redis-as-deployment",
                WARNING,
                obj,
                (
                    "Redis runs as a Deployment instead of a StatefulSet",
                    "no stable pod identity and no per-pod volume; a rollout can run two "
                    "servers against one data set",
                ),
                (
                    "Redis запущен как Deployment, а не StatefulSet",
                    "нет постоянной идентичности пода и собственного тома; при обновлении "
                    "могут работать два сервера с одними данными",
                ),
            )


@rule_id("service-selector-no-match")
def service_selector_no_match(objects: Sequence[Obj], options: Options) -> Iterator[Finding]:
    """A Service whose selector matches no pod template: it has no endpoints, every call fails."""
    for svc in _services(objects):
        selector = (svc.get("spec") or {}).get("selector") or {}
        if selector and not _selected(svc, objects):
            yield _finding(
                "service-selector-no-match",
                ERROR,
                svc,
                (
                    f"selector {dict(selector)} matches no pod template's labels",
                    "the Service has no endpoints: every connection is refused",
                ),
                (
                    f"селектор {dict(selector)} не совпадает с метками ни одного шаблона пода",
                    "у Service нет endpoints: каждое соединение отклоняется",
                ),
            )


@rule_id("service-target-port-missing")
def service_target_port_missing(objects: Sequence[Obj], options: Options) -> Iterator[Finding]:
    """A Service targetPort (number or name) that no selected container declares.

    A name that resolves to nothing gives the Service no endpoint port; a number nobody
    listens on refuses every connection.
    """
    for svc in _services(objects):
        selected = _selected(svc, objects)
        if not selected:
            continue  # service_selector_no_match reports it
        ports = [p for _, spec in selected for c in _containers(spec) for p in c.get("ports") or []]
        numbers = {p.get("containerPort") for p in ports}
        names = {p.get("name") for p in ports if p.get("name")}
        for port in (svc.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            found = target in names if isinstance(target, str) else target in numbers
            if not found:
                yield _finding(
                    "service-target-port-missing",
                    ERROR,
                    svc,
                    (
                        f"port {port.get('port')}: targetPort {target!r} is not a port of any "
                        "selected container",
                        "connections to this port reach no listening container and fail",
                    ),
                    (
                        f"порт {port.get('port')}: targetPort {target!r} не объявлен ни в одном "
                        "выбранном контейнере",
                        "соединения на этот порт не доходят до контейнера и завершаются ошибкой",
                    ),
                )


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@rule_id("redis-host-no-service")
def redis_host_no_service(objects: Sequence[Obj], options: Options) -> Iterator[Finding]:
    """An env REDIS_HOST naming no Service of the manifests: the name does not resolve.

    ``name``, ``name.namespace`` and ``name.namespace.svc...`` count as the Service ``name``;
    IP addresses are left alone.
    """
    services = {_name(svc) for svc in _services(objects)}
    for obj, spec in _workloads(objects):
        for c in _containers(spec):
            for env in c.get("env") or []:
                value = env.get("value")
                if env.get("name") != "REDIS_HOST" or not isinstance(value, str):
                    continue
                if _is_ip(value) or value.split(".", 1)[0] in services:
                    continue
                yield _finding(
                    "redis-host-no-service",
                    ERROR,
                    obj,
                    (
                        f"container {c.get('name')}: REDIS_HOST={value} names no Service",
                        "the name does not resolve: the app cannot reach Redis and answers 503",
                    ),
                    (
                        f"контейнер {c.get('name')}: REDIS_HOST={value} не является именем Service",
                        "имя не разрешается: приложение не может связаться с Redis и отвечает 503",
                    ),
                )


@rule_id("no-resource-requests")
def no_resource_requests(objects: Sequence[Obj], options: Options) -> Iterator[Finding]:
    """A container without resources.requests: scheduled blind, first evicted under pressure.

    BestEffort pods are placed without regard to node capacity and are the first killed.
    """
    for obj, spec in _workloads(objects):
        for c in _containers(spec):
            if not (c.get("resources") or {}).get("requests"):
                yield _finding(
                    "no-resource-requests",
                    WARNING,
                    obj,
                    (
                        f"container {c.get('name')} has no resources.requests",
                        "the scheduler places it without regard to node capacity and it is the "
                        "first evicted under memory pressure (BestEffort)",
                    ),
                    (
                        f"у контейнера {c.get('name')} нет resources.requests",
                        "планировщик размещает его без учёта ресурсов узла, и при нехватке "
                        "памяти он вытесняется первым (BestEffort)",
                    ),
                )


#: The rules, in the order their findings are reported.
RULES: tuple[Rule, ...] = (
    image_pull_never,
    image_localhost_registry,
    loadbalancer_traefik_port,
    no_readiness_probe,
    no_liveness_probe,
    redis_aof_without_volume,
    redis_as_deployment,
    service_selector_no_match,
    service_target_port_missing,
    redis_host_no_service,
    no_resource_requests,
)


def diagnose(
    objects: Sequence[Obj], options: Options | None = None, rules: Sequence[Rule] = RULES
) -> list[Finding]:
    """All findings of *rules* on *objects*."""
    options = options or Options()
    return [finding for rule in rules for finding in rule(objects, options)]
