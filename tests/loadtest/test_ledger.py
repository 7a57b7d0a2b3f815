"""The fault drills' accounting client (loadtest/ledger.py) against the real counter app
(gunicorn + redis-server), a port nothing listens on, and a peer that drops the connection
after reading the request."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from loadtest_app_runner import free_port

from loadtest import ledger
from loadtest.ledger import ACK, DOUBT, FAILED, Outcome


def test_answers_are_classified() -> None:
    assert ledger.classify_answer(200, b'{"name": "c", "value": 7}') == (ACK, 7)
    assert ledger.classify_answer(201, b'{"value": 1}') == (ACK, 1)
    assert ledger.classify_answer(200, b"not json") == (DOUBT, None)
    assert ledger.classify_answer(200, b'{"value": true}') == (DOUBT, None)
    for status in (502, 504):
        assert ledger.classify_answer(status, b"") == (DOUBT, None)
    for status in (400, 404, 500, 503):
        assert ledger.classify_answer(status, b"") == (FAILED, None)


def test_accounts_are_closed() -> None:
    out = [
        Outcome(0.1, 0.2, ACK, 200, 11),
        Outcome(1.0, 1.1, FAILED, error="connect: ConnectionRefusedError"),
        Outcome(2.0, 2.5, DOUBT, error="after send: TimeoutError"),
        Outcome(3.0, 3.1, ACK, 200, 12),
        Outcome(3.2, 3.3, ACK, 200, 12),  # the same new value twice: one write was lost
        Outcome(3.4, 3.5, ACK, 200, 15),  # above the final value
    ]
    s = ledger.close_accounts(out, initial=10, final=13, start=0.0, end=4.0, marks={"fault": 0.9})
    assert (s["requests"], s["acknowledged"], s["failed"], s["in_doubt"]) == (6, 4, 1, 1)
    assert s["delta"] == 3 and s["lost"] == 1 and s["phantom"] == -2
    assert s["duplicate_acks"] == 1 and s["acks_above_final"] == 1
    assert s["outage_s"] == pytest.approx(2.9)  # 0.2 -> 3.1 without an acknowledgement
    assert s["recovery_s"] == pytest.approx(2.2)  # fault 0.9 -> first ack after the doubt, 3.1
    assert s["first_ack_after"]["fault"] == pytest.approx(2.2)  # first ack sent after 0.9: 3.1
    assert s["failed_pct"] == pytest.approx(16.667, abs=0.001)
    assert [t["s"] for t in s["timeline"]] == [0, 1, 2, 3]


def test_recovery_without_a_failure_or_without_a_fault() -> None:
    out = [Outcome(1.0, 1.1, ACK, 200, 1), Outcome(2.0, 2.1, ACK, 200, 2)]
    assert ledger.recovery(out, 0.5) == 0.0
    assert ledger.recovery(out, None) is None
    assert ledger.recovery([*out, Outcome(3.0, 3.1, FAILED)], 0.5) is None


def test_a_steady_run_acknowledges_every_write(app_url: str, tmp_path: Path) -> None:
    out = tmp_path / "ledger.json"
    args = ["--url", app_url, "--counter", "ledger-steady", "--out", str(out)]
    rc = ledger.main([*args, "--rate", "50", "--duration", "2", "--settle", "0.2"])
    assert rc == 0
    s = json.loads(out.read_text())
    assert s["requests"] == 100 and s["acknowledged"] == 100
    assert s["failed"] == s["in_doubt"] == 0
    assert (s["initial"], s["final"]) == (0, 100)
    assert s["lost"] == s["phantom"] == s["duplicate_acks"] == s["acks_above_final"] == 0
    assert s["outage_s"] < 1.0
    assert s["answers"] == {"200": 100}


def test_a_refused_connection_is_a_failed_request() -> None:
    target = ledger.Target.parse(f"http://127.0.0.1:{free_port()}")
    outcomes, _ = ledger.send_steadily(target, "c", rate=20, duration=0.5, timeout=1, concurrency=4)
    assert len(outcomes) == 10
    assert {o.kind for o in outcomes} == {FAILED}
    assert {o.error for o in outcomes} == {"connect: ConnectionRefusedError"}


def test_a_connection_dropped_after_the_request_is_in_doubt() -> None:
    """A peer that reads the whole request, then closes without answering: the write may have
    been applied, so the client cannot count it either way."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    outcome = ledger.increment(ledger.Target.parse(f"http://127.0.0.1:{port}"), "c", timeout=2)
    thread.join(timeout=5)
    assert outcome.kind == DOUBT
    assert outcome.error.startswith("after send: ")


def gunicorn_pids(url: str) -> list[int]:
    """The gunicorn processes serving `url` (their environment names the bind address)."""
    bind = url.removeprefix("http://").encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"gunicorn" in cmdline and b"GUNICORN_BIND=" + bind in environ:
            pids.append(int(proc.name))
    return pids


def test_a_paused_server_gives_doubts_an_outage_and_no_loss(app_url: str, tmp_path: Path) -> None:
    """gunicorn stopped (SIGSTOP) for 1.5 s under load: requests time out (in doubt, and
    applied after SIGCONT), the outage and the recovery are measured from the fault mark, and
    no acknowledged write is lost."""
    pids = gunicorn_pids(app_url)
    assert pids, "the test app's gunicorn processes were not found"
    marks, out = tmp_path / "marks.json", tmp_path / "ledger.json"

    def fault() -> None:
        time.sleep(1.0)
        marks.write_text(json.dumps({"fault": time.time()}))
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(1.5)
        for pid in pids:
            os.kill(pid, signal.SIGCONT)

    thread = threading.Thread(target=fault)
    thread.start()
    try:
        args = ["--url", app_url, "--counter", "ledger-pause", "--marks", str(marks)]
        args += ["--out", str(out), "--rate", "40", "--duration", "4", "--timeout", "0.5"]
        rc = ledger.main([*args, "--settle", "1"])
    finally:
        thread.join()
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    assert rc == 0
    s = json.loads(out.read_text())
    assert s["in_doubt"] > 0
    assert s["acknowledged"] + s["failed"] + s["in_doubt"] == s["requests"] == 160
    assert s["lost"] <= 0 and s["duplicate_acks"] == 0 and s["acks_above_final"] == 0
    assert s["phantom"] <= 0
    assert 1.2 <= s["outage_s"] <= 4.0
    assert s["recovery_s"] is not None and 1.0 <= s["recovery_s"] <= 4.0
