"""The result app against real PostgreSQL: counts equal the votes cast, readiness, errors."""

from __future__ import annotations

import os
import socket

import pytest
from voting import load_settings, result, vote
from voting.store import VOTES_KEY
from voting.worker import Backoff, Worker

from tests.voting.votingutil import settings_for


@pytest.fixture
def client(config):
    return result.create_app(config).test_client()


def cast_and_process(config, rdb, ballots: list[str]) -> None:
    """Each ballot from its own browser (new cookie) through the vote app, then the worker."""
    vote_app = vote.create_app(config)
    for choice in ballots:
        assert vote_app.test_client().post("/", data={"vote": choice}).status_code == 200
    worker = Worker(load_settings(config), backoff=Backoff(0.05, 0.2))
    try:
        while rdb.llen(VOTES_KEY):
            worker.run_once()
    finally:
        worker.shutdown()


def test_no_votes_yet_means_zeros_even_without_the_table(client):
    assert client.get("/api/results").get_json() == {"a": 0, "b": 0, "total": 0}
    page = client.get("/").get_data(as_text=True)
    assert "0 votes" in page


def test_counts_equal_votes_cast(config, client, rdb):
    cast_and_process(config, rdb, ["a"] * 7 + ["b"] * 3)
    assert client.get("/api/results").get_json() == {"a": 7, "b": 3, "total": 10}
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Cats vs Dogs" in page
    assert "<td>Cats</td><td>7</td><td>70.0%</td>" in page
    assert "<td>Dogs</td><td>3</td><td>30.0%</td>" in page
    assert "10 votes" in page


def test_changed_votes_are_counted_once(config, client, rdb):
    voter = vote.create_app(config).test_client()
    for choice in ("a", "b", "a", "b"):
        voter.post("/api/vote", json={"vote": choice})
    cast_and_process(config, rdb, ["a"])
    assert client.get("/api/results").get_json() == {"a": 1, "b": 1, "total": 2}


def test_percentages():
    assert result.percentages({"a": 0, "b": 0}) == {"a": 50.0, "b": 50.0}
    assert result.percentages({"a": 1, "b": 2}) == {"a": 33.3, "b": 66.7}
    assert result.percentages({"a": 5, "b": 0}) == {"a": 100.0, "b": 0.0}


def test_readyz_and_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_x_instance_header(client):
    for path in ("/", "/api/results", "/healthz", "/readyz", "/missing"):
        assert client.get(path).headers["X-Instance"] == f"{socket.gethostname()}:{os.getpid()}"


def test_postgres_down_gives_503_and_recovers(redis_server, postgres_factory, tmp_path):
    db = postgres_factory()
    db.start()
    client = result.create_app(settings_for(redis_server, db, tmp_path)).test_client()
    assert client.get("/readyz").status_code == 200
    db.stop()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "database unavailable" in ready.get_json()["error"]
    assert client.get("/healthz").status_code == 200
    api = client.get("/api/results")
    assert api.status_code == 503
    assert api.get_json() == {"error": "database unavailable"}
    assert client.get("/").status_code == 503
    db.start()
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/results").get_json() == {"a": 0, "b": 0, "total": 0}


def test_wrong_password_is_not_ready(config):
    client = result.create_app({**config, "DB_PASSWORD": "wrong"}).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database unavailable" in response.get_json()["error"]
