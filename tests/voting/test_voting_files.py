"""The voting stack files: replicas, healthchecks, depends_on, images, networks, Dockerfiles."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.voting.votingutil import APP_DIR

VOTING = APP_DIR / "voting"
SERVICES = {"vote", "result", "worker", "redis", "db"}
REGISTRY = "${DOCKER_REGISTRY:-localhost:5000}"


def load(name: str) -> dict:
    return yaml.safe_load((VOTING / name).read_text())


@pytest.fixture(params=["docker-stack.yml", "docker-compose.yml"])
def compose(request) -> dict:
    return load(request.param)


def test_five_services_with_healthchecks_and_registry_images(compose):
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service["image"].startswith(f"{REGISTRY}/"), name
    assert services["vote"]["image"] == f"{REGISTRY}/voting-app:latest"
    assert services["result"]["image"] == services["worker"]["image"] == services["vote"]["image"]
    assert services["db"]["image"] == f"{REGISTRY}/voting-db:latest"
    assert services["redis"]["image"] == f"{REGISTRY}/redis:latest"
    assert services["worker"]["healthcheck"]["test"][-3:] == ["-m", "voting.worker", "--check"]
    assert "pg_isready" in services["db"]["healthcheck"]["test"]
    assert "voting.vote:create_app()" in services["vote"]["command"]
    assert "voting.result:create_app()" in services["result"]["command"]
    assert services["worker"]["command"] == ["python3", "-m", "voting.worker"]
    assert services["vote"]["ports"] == ["5080:8000"]
    assert services["result"]["ports"] == ["5081:8000"]
    assert "db-data:/var/lib/postgresql/data" in services["db"]["volumes"]


def test_stack_replicas_networks_and_swarm_notes():
    stack = load("docker-stack.yml")
    assert stack["version"] == "3.8"
    replicas = {name: s["deploy"]["replicas"] for name, s in stack["services"].items()}
    assert replicas == {"vote": 2, "result": 1, "worker": 2, "redis": 1, "db": 1}
    overlay = {"driver": "overlay"}
    assert stack["networks"] == {"frontend": overlay, "backend": overlay}
    for name in ("worker", "redis", "db"):
        assert stack["services"][name]["networks"] == ["backend"]
    for name in ("vote", "result"):
        assert stack["services"][name]["networks"] == ["frontend", "backend"]
        assert stack["services"][name]["deploy"]["endpoint_mode"] == "vip"
    text = (VOTING / "docker-stack.yml").read_text()
    assert "IGNORES depends_on" in text
    assert "dnsrr" in text


def test_compose_variant_waits_for_healthy_dependencies():
    services = load("docker-compose.yml")["services"]
    healthy = {"condition": "service_healthy"}
    assert services["vote"]["depends_on"] == {"redis": healthy}
    assert services["worker"]["depends_on"] == {"redis": healthy, "db": healthy}
    assert services["result"]["depends_on"] == {"db": healthy}
    assert services["worker"]["deploy"]["replicas"] == 2


def dockerfile(path: Path) -> str:
    return path.read_text()


def test_app_dockerfile_builds_from_the_lab_base_with_debian_packages():
    text = dockerfile(VOTING / "Dockerfile")
    assert "ARG BASE_IMAGE=lab/base:latest" in text
    assert "FROM ${BASE_IMAGE}" in text
    for package in ("python3-flask", "python3-redis", "python3-psycopg2", "gunicorn"):
        assert package in text
    assert "--no-install-recommends" in text
    assert "USER ${APP_UID}" in text
    # every module of the package is copied into the image
    modules = sorted(p.name for p in VOTING.glob("*.py"))
    copy = next(line for line in text.splitlines() if line.startswith("COPY __init__.py"))
    assert sorted(copy.split()[1:-1]) == modules
    ignore = (VOTING / ".dockerignore").read_text().split()
    assert sorted(x[1:] for x in ignore if x.endswith(".py")) == modules


def test_db_dockerfile():
    text = dockerfile(VOTING / "db" / "Dockerfile")
    assert "ARG BASE_IMAGE=lab/base:latest" in text
    assert "postgresql-${PG_MAJOR}" in text and "ARG PG_MAJOR=15" in text
    assert "HEALTHCHECK" in text and "pg_isready" in text
    assert "PGDATA=/var/lib/postgresql/data" in text
    assert "VOLUME /var/lib/postgresql/data" in text
