"""Atomic increments under concurrent requests."""

from __future__ import annotations

import threading

THREADS = 8
PER_THREAD = 200


def run_threads(target):
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def wrapper(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # re-raised in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=wrapper, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


def test_concurrent_api_increments_sum_exactly(app, rdb):
    seen: list[list[int]] = [[] for _ in range(THREADS)]

    def work(i):
        client = app.test_client()
        for _ in range(PER_THREAD):
            response = client.post("/api/counters/shared/incr")
            assert response.status_code == 200
            seen[i].append(response.get_json()["value"])

    run_threads(work)
    total = THREADS * PER_THREAD
    values = sorted(v for per in seen for v in per)
    assert values == list(range(1, total + 1)), "every increment saw a distinct value"
    assert rdb.hget("counters", "shared") == str(total)
    assert app.test_client().get("/api/counters/shared").get_json()["value"] == total


def test_concurrent_page_hits_sum_exactly(app, rdb):
    def work(_):
        client = app.test_client()
        for _ in range(PER_THREAD):
            assert client.get("/").status_code == 200

    run_threads(work)
    assert rdb.get("hits") == str(THREADS * PER_THREAD)


def test_concurrent_increments_with_steps(app, rdb):
    def work(i):
        client = app.test_client()
        for _ in range(50):
            response = client.post("/api/counters/steps/incr", json={"by": i + 1})
            assert response.status_code == 200

    run_threads(work)
    assert rdb.hget("counters", "steps") == str(50 * sum(range(1, THREADS + 1)))
