"""The vote app against a real redis-server: form, JSON API, cookies, errors, readiness."""

from __future__ import annotations

import json
import os
import socket

import pytest
from voting import vote


@pytest.fixture
def client(config):
    return vote.create_app(config).test_client()


def queued(rdb) -> list[dict[str, str]]:
    return [json.loads(item) for item in rdb.lrange("votes", 0, -1)]


def test_form_shows_both_options_and_sets_voter_cookie(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Cats" in page and "Dogs" in page
    assert 'name="vote" value="a"' in page and 'name="vote" value="b"' in page
    cookie = client.get_cookie("voter_id")
    assert cookie is not None and len(cookie.value) == 32
    # an existing cookie is kept
    assert "Set-Cookie" not in client.get("/").headers


def test_options_come_from_config(config):
    client = vote.create_app({**config, "OPTION_A": "Tea", "OPTION_B": "Coffee"}).test_client()
    page = client.get("/").get_data(as_text=True)
    assert "Tea vs Coffee" in page


def test_form_vote_is_queued_with_the_cookie_voter_id(client, rdb):
    response = client.post("/", data={"vote": "a"})
    assert response.status_code == 200
    assert "You voted for Cats" in response.get_data(as_text=True)
    voter_id = client.get_cookie("voter_id").value
    client.post("/", data={"vote": "b"})
    assert queued(rdb) == [
        {"voter_id": voter_id, "vote": "a"},
        {"voter_id": voter_id, "vote": "b"},
    ]


def test_api_vote_returns_202_with_voter_id(client, rdb):
    response = client.post("/api/vote", json={"vote": "b"})
    assert response.status_code == 202
    body = response.get_json()
    assert body["vote"] == "b"
    assert body["voter_id"] == client.get_cookie("voter_id").value
    # the same client (cookie) votes again as the same voter
    again = client.post("/api/vote", json={"vote": "a"}).get_json()
    assert again["voter_id"] == body["voter_id"]
    assert queued(rdb) == [
        {"voter_id": body["voter_id"], "vote": "b"},
        {"voter_id": body["voter_id"], "vote": "a"},
    ]


def test_api_vote_with_explicit_voter_id(client, rdb):
    response = client.post("/api/vote", json={"vote": "a", "voter_id": "alice"})
    assert response.status_code == 202
    assert response.get_json() == {"voter_id": "alice", "vote": "a"}
    assert queued(rdb) == [{"voter_id": "alice", "vote": "a"}]


def test_bad_cookie_is_replaced(client, rdb):
    client.set_cookie("voter_id", "not valid!")
    voter_id = client.post("/api/vote", json={"vote": "a"}).get_json()["voter_id"]
    assert voter_id != "not valid!" and len(voter_id) == 32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"json": {"vote": "c"}}, "vote must be 'a' or 'b'"),
        ({"json": {"vote": 1}}, "vote must be 'a' or 'b'"),
        ({"json": {}}, "vote must be 'a' or 'b'"),
        ({"json": ["a"]}, "request body must be a JSON object"),
        ({"data": "{not json", "content_type": "application/json"}, "JSON object"),
        ({"json": {"vote": "a", "extra": 1}}, "unexpected field(s): extra"),
        ({"json": {"vote": "a", "voter_id": "x" * 65}}, "voter_id must be"),
        ({"json": {"vote": "a", "voter_id": 7}}, "voter_id must be"),
    ],
)
def test_invalid_api_vote_is_400_json(client, rdb, kwargs, message):
    response = client.post("/api/vote", **kwargs)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert rdb.llen("votes") == 0


@pytest.mark.parametrize("data", [{"vote": "c"}, {"vote": ""}, {}])
def test_invalid_form_vote_is_400_json(client, rdb, data):
    response = client.post("/", data=data)
    assert response.status_code == 400
    assert response.get_json() == {"error": "vote must be 'a' or 'b'"}
    assert rdb.llen("votes") == 0


def test_unknown_path_and_method_are_json(client):
    assert client.get("/nope").get_json()["error"]
    response = client.delete("/")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_x_instance_names_host_and_pid(client):
    for path in ("/", "/healthz", "/readyz", "/nope"):
        response = client.get(path)
        assert response.headers["X-Instance"] == f"{socket.gethostname()}:{os.getpid()}"


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_redis_down_gives_503_and_recovers(config, redis_factory):
    server = redis_factory()
    server.start()
    client = vote.create_app({**config, "REDIS_PORT": server.port}).test_client()
    assert client.get("/readyz").status_code == 200
    server.stop()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "redis unavailable" in ready.get_json()["error"]
    assert client.get("/healthz").status_code == 200  # alive without Redis
    assert client.get("/").status_code == 200  # the form needs no Redis
    response = client.post("/api/vote", json={"vote": "a"})
    assert response.status_code == 503
    assert response.get_json() == {"error": "redis unavailable"}
    assert client.post("/", data={"vote": "b"}).status_code == 503
    server.start()
    assert client.get("/readyz").status_code == 200
    assert client.post("/api/vote", json={"vote": "a"}).status_code == 202
