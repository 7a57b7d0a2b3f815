"""Prometheus text exposition of /metrics."""

from __future__ import annotations

import itertools
import re

import pytest
from counter.metrics import Metrics, escape_label

SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$'
)


def parse(text):
    """Return {(name, frozenset(labels)): value} and check every line's syntax."""
    samples = {}
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if line.startswith("#"):
            assert line.startswith("# HELP "), line
            continue
        match = SAMPLE.match(line)
        assert match, f"bad sample line: {line!r}"
        name, labels, value = match.group(1), match.group(2) or "", match.group(3)
        pairs = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels))
        key = (name, pairs)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(value)
    return samples, types


def lbl(**kw):
    return frozenset(kw.items())


def test_metrics_after_requests(client):
    for _ in range(3):
        client.get("/")
    client.put("/api/counters/m", json={"value": 1})
    client.get("/api/counters/m")
    client.get("/api/counters/nope")
    client.get("/api/counters/bad*name")
    client.get("/does/not/exist")

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples, types = parse(response.get_data(as_text=True))

    assert types["counter_http_requests_total"] == "counter"
    assert types["counter_http_request_duration_seconds"] == "histogram"
    req = "counter_http_requests_total"
    assert samples[(req, lbl(endpoint="/", method="GET", status="200"))] == 3
    assert samples[(req, lbl(endpoint="/api/counters/<name>", method="PUT", status="201"))] == 1
    assert samples[(req, lbl(endpoint="/api/counters/<name>", method="GET", status="200"))] == 1
    assert samples[(req, lbl(endpoint="/api/counters/<name>", method="GET", status="404"))] == 1
    assert samples[(req, lbl(endpoint="/api/counters/<name>", method="GET", status="400"))] == 1
    assert samples[(req, lbl(endpoint="<unmatched>", method="GET", status="404"))] == 1
    # /metrics is counted after it has rendered, so not in its own first scrape
    assert not any(dict(k[1]).get("endpoint") == "/metrics" for k in samples)

    hist = "counter_http_request_duration_seconds"
    for endpoint, count in [("/", 3), ("/api/counters/<name>", 4), ("<unmatched>", 1)]:
        buckets = sorted(
            (float(dict(labels)["le"]), value)
            for (name, labels), value in samples.items()
            if name == f"{hist}_bucket" and dict(labels)["endpoint"] == endpoint
        )
        assert len(buckets) == 14
        assert buckets[-1] == (float("inf"), count)
        assert all(a[1] <= b[1] for a, b in itertools.pairwise(buckets))
        assert samples[(f"{hist}_count", lbl(endpoint=endpoint))] == count
        assert samples[(f"{hist}_sum", lbl(endpoint=endpoint))] > 0

    info = [k for k in samples if k[0] == "counter_app_info"]
    assert len(info) == 1
    assert dict(info[0][1])["instance"] == response.headers["X-Instance"]

    second, _ = parse(client.get("/metrics").get_data(as_text=True))
    assert second[(req, lbl(endpoint="/metrics", method="GET", status="200"))] == 1


def test_metrics_are_per_app_instance(app, redis_config):
    from counter import create_app

    app.test_client().get("/healthz")
    other = create_app(redis_config).test_client()
    samples, _ = parse(other.get("/metrics").get_data(as_text=True))
    assert not any(k[0] == "counter_http_requests_total" for k in samples)


def test_histogram_bucket_placement():
    metrics = Metrics("host", buckets=(0.01, 0.1, 1.0))
    for seconds in (0.005, 0.01, 0.05, 0.5, 3.0):
        metrics.observe("/x", "GET", 200, seconds)
    samples, _ = parse(metrics.render())
    bucket = "counter_http_request_duration_seconds_bucket"
    assert samples[(bucket, lbl(endpoint="/x", le="0.01"))] == 2  # le is inclusive
    assert samples[(bucket, lbl(endpoint="/x", le="0.1"))] == 3
    assert samples[(bucket, lbl(endpoint="/x", le="1.0"))] == 4
    assert samples[(bucket, lbl(endpoint="/x", le="+Inf"))] == 5
    total = samples[("counter_http_request_duration_seconds_sum", lbl(endpoint="/x"))]
    assert total == pytest.approx(3.565)
    assert (
        samples[("counter_http_requests_total", lbl(endpoint="/x", method="GET", status="200"))]
        == 5
    )


def test_503_is_counted(redis_factory):
    from counter import create_app

    server = redis_factory()  # never started
    client = create_app(
        {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": server.port, "REDIS_SENTINELS": ""}
    ).test_client()
    client.get("/")
    samples, _ = parse(client.get("/metrics").get_data(as_text=True))
    assert (
        samples[("counter_http_requests_total", lbl(endpoint="/", method="GET", status="503"))] == 1
    )


def test_label_escaping():
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    metrics = Metrics('we"ird\nhost')
    metrics.observe('/p"\\', "GET", 200, 0.0)
    samples, _ = parse(metrics.render())
    assert (
        "counter_http_requests_total",
        lbl(endpoint='/p\\"\\\\', method="GET", status="200"),
    ) in samples
