"""The named-counter JSON API against a real Redis."""

from __future__ import annotations

import pytest


def test_empty_list(client):
    response = client.get("/api/counters")
    assert response.status_code == 200
    assert response.get_json() == {}


def test_put_creates_then_replaces(client, rdb):
    created = client.put("/api/counters/visits", json={"value": 5})
    assert created.status_code == 201
    assert created.get_json() == {"name": "visits", "value": 5}
    assert created.headers["Location"].endswith("/api/counters/visits")
    replaced = client.put("/api/counters/visits", json={"value": -7})
    assert replaced.status_code == 200
    assert replaced.get_json() == {"name": "visits", "value": -7}
    assert "Location" not in replaced.headers
    assert rdb.hget("counters", "visits") == "-7"


def test_get_one_and_list(client):
    client.put("/api/counters/a", json={"value": 1})
    client.put("/api/counters/b.c-D_9", json={"value": 2})
    assert client.get("/api/counters/a").get_json() == {"name": "a", "value": 1}
    assert client.get("/api/counters").get_json() == {"a": 1, "b.c-D_9": 2}


def test_get_missing_is_404_json(client):
    response = client.get("/api/counters/ghost")
    assert response.status_code == 404
    assert response.get_json() == {"error": "counter 'ghost' not found"}


def test_delete(client):
    client.put("/api/counters/gone", json={"value": 3})
    response = client.delete("/api/counters/gone")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert client.get("/api/counters/gone").status_code == 404
    again = client.delete("/api/counters/gone")
    assert again.status_code == 404
    assert "error" in again.get_json()


def test_incr_default_and_by(client):
    first = client.post("/api/counters/x/incr")
    assert first.status_code == 200
    assert first.get_json() == {"name": "x", "value": 1}
    assert client.post("/api/counters/x/incr", json={"by": 10}).get_json()["value"] == 11
    assert client.post("/api/counters/x/incr", json={"by": -20}).get_json()["value"] == -9
    assert client.post("/api/counters/x/incr", json={}).get_json()["value"] == -8
    assert client.get("/api/counters/x").get_json() == {"name": "x", "value": -8}


def test_incr_existing_counter(client):
    client.put("/api/counters/y", json={"value": 100})
    assert client.post("/api/counters/y/incr", json={"by": 5}).get_json()["value"] == 105


def test_values_at_64_bit_limits(client):
    big = 2**63 - 1
    assert client.put("/api/counters/big", json={"value": big}).status_code == 201
    assert client.get("/api/counters/big").get_json()["value"] == big
    assert client.put("/api/counters/small", json={"value": -(2**63)}).status_code == 201


def test_incr_overflow_is_400(client):
    client.put("/api/counters/big", json={"value": 2**63 - 1})
    response = client.post("/api/counters/big/incr")
    assert response.status_code == 400
    assert "overflow" in response.get_json()["error"]
    assert client.get("/api/counters/big").get_json()["value"] == 2**63 - 1


BAD_NAMES = ["a" * 65, "with%20space", "sl%2Fash", "%C3%BC", "a:b", "a*", "%00"]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("put", "", {"value": 1}),
        ("delete", "", None),
        ("post", "/incr", None),
    ],
)
def test_bad_names_are_400(client, rdb, name, method, suffix, body):
    response = getattr(client, method)(f"/api/counters/{name}{suffix}", json=body)
    assert response.status_code in (400, 404)
    if response.status_code == 404:  # only an encoded slash may miss the route entirely
        assert name == "sl%2Fash"
    else:
        assert "name" in response.get_json()["error"]
    assert rdb.hlen("counters") == 0


def test_name_length_limits(client):
    assert client.put(f"/api/counters/{'n' * 64}", json={"value": 1}).status_code == 201
    assert client.put(f"/api/counters/{'n' * 65}", json={"value": 1}).status_code == 400


@pytest.mark.parametrize(
    "value", ["5", 1.5, 1.0, True, False, None, [1], {"v": 1}, 2**63, -(2**63) - 1]
)
def test_put_rejects_non_integer_values(client, rdb, value):
    response = client.put("/api/counters/v", json={"value": value})
    assert response.status_code == 400
    assert "'value'" in response.get_json()["error"]
    assert rdb.hlen("counters") == 0


@pytest.mark.parametrize("by", ["1", 0.5, 2.0, True, None, [1], 2**63])
def test_incr_rejects_non_integer_by(client, rdb, by):
    response = client.post("/api/counters/v/incr", json={"by": by})
    assert response.status_code == 400
    assert "'by'" in response.get_json()["error"]
    assert rdb.hlen("counters") == 0


@pytest.mark.parametrize(
    ("method", "path", "data", "message"),
    [
        ("put", "/api/counters/v", "", "JSON object"),
        ("put", "/api/counters/v", "{not json", "not valid JSON"),
        ("put", "/api/counters/v", b"\xff\xfe", "not valid JSON"),
        ("put", "/api/counters/v", "[1, 2]", "JSON object"),
        ("put", "/api/counters/v", "[" * 60000, "not valid JSON"),
        ("put", "/api/counters/v", '{"value": 1e400}', "'value' must be an integer"),
        ("put", "/api/counters/v", "7", "JSON object"),
        ("put", "/api/counters/v", '"s"', "JSON object"),
        ("put", "/api/counters/v", "{}", "'value' is required"),
        ("put", "/api/counters/v", '{"value": 1, "x": 2}', "unexpected field(s): x"),
        ("put", "/api/counters/v", '{"value": NaN}', "'value' must be an integer"),
        ("post", "/api/counters/v/incr", "{bad", "not valid JSON"),
        ("post", "/api/counters/v/incr", "[]", "JSON object"),
        ("post", "/api/counters/v/incr", "null", "JSON object"),
        ("post", "/api/counters/v/incr", '{"step": 1}', "unexpected field(s): step"),
    ],
)
def test_bad_bodies_are_400(client, rdb, method, path, data, message):
    response = getattr(client, method)(path, data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.is_json
    assert message in response.get_json()["error"]
    assert rdb.hlen("counters") == 0


def test_body_without_json_content_type_is_parsed(client):
    response = client.put("/api/counters/plain", data='{"value": 3}', content_type="text/plain")
    assert response.status_code == 201


def test_counters_do_not_touch_hits(client, rdb):
    client.get("/")
    client.post("/api/counters/hits/incr")
    assert rdb.get("hits") == "1"
    assert client.get("/api/counters/hits").get_json()["value"] == 1
