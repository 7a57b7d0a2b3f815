"""Increments are sent at most once and their failures say whether they may be applied.

503 = certainly not applied (nothing sent, or Redis refused it), 504 = in doubt (sent, no
confirmation), 200 = applied (and, with REDIS_WAIT_REPLICAS, held by that many replicas).
Real redis-server processes, plus a tiny RESP server for the faults a real one cannot be
made to show on demand (a reply that never comes, a READONLY reply).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from counter import create_app, get_state

IN_DOUBT = "the write may or may not be applied"


def app_for(port: int, **extra: object):
    """A counter app talking directly to 127.0.0.1:*port*."""
    config = {
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": port,
        "REDIS_PASSWORD": "",
        "REDIS_SENTINELS": "",
        **extra,
    }
    return create_app(config)


def wait_until(predicate, timeout: float = 10, what: str = "condition") -> None:
    """Poll *predicate* every 20 ms until it is true; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class FakeRedis:
    """A one-thread RESP server that records every command and connection.

    It answers the client's handshake (HELLO, CLIENT, SELECT, PING); on a write command
    (HINCRBY, INCR) it closes the connection without a reply, or after *write_reply*.
    """

    WRITES = (b"HINCRBY", b"INCR")

    def __init__(self, write_reply: bytes | None = None) -> None:
        self.write_reply = write_reply
        self.commands: list[list[bytes]] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def writes(self) -> list[list[bytes]]:
        """The write commands received, in order."""
        return [c for c in self.commands if c and c[0].upper() in self.WRITES]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(5)
                self._talk(conn)

    def _talk(self, conn: socket.socket) -> None:
        stream = conn.makefile("rb")
        try:
            while not self._stop.is_set():
                command = read_command(stream)
                if command is None:
                    return
                self.commands.append(command)
                name = command[0].upper()
                if name in self.WRITES:
                    if self.write_reply is not None:
                        conn.sendall(self.write_reply)
                    return  # close the connection (after the reply, if any)
                conn.sendall(handshake_reply(command))
        except OSError:
            return
        finally:
            stream.close()


def handshake_reply(command: list[bytes]) -> bytes:
    """The reply to a non-write command: HELLO (RESP3, redis-py 6+), PING, else +OK."""
    name = command[0].upper()
    if name == b"HELLO":
        proto = int(command[1]) if len(command) > 1 else 2
        return b"%1\r\n$5\r\nproto\r\n:" + str(proto).encode() + b"\r\n"
    return b"+PONG\r\n" if name == b"PING" else b"+OK\r\n"


def read_command(stream) -> list[bytes] | None:
    """Read one RESP array of bulk strings; None at end of stream."""
    header = stream.readline()
    if not header:
        return None
    assert header.startswith(b"*"), header
    parts = []
    for _ in range(int(header[1:])):
        length = int(stream.readline()[1:])
        parts.append(stream.read(length + 2)[:-2])
    return parts


@pytest.fixture
def fake_redis() -> Iterator[type[FakeRedis]]:
    """Start FakeRedis servers; all are closed after the test."""
    started: list[FakeRedis] = []

    class Tracked(FakeRedis):
        def __init__(self, write_reply: bytes | None = None) -> None:
            super().__init__(write_reply)
            started.append(self)

    try:
        yield Tracked
    finally:
        for server in started:
            server.close()


# --- sent at most once ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "command"),
    [("post", "/api/counters/x/incr", b"HINCRBY"), ("get", "/", b"INCR")],
)
def test_write_lost_after_sending_is_504_and_never_resent(fake_redis, method, path, command):
    """The connection drops after the command was sent: in doubt, and sent only once,
    although the client retries connection errors (REDIS_RETRIES=1) for other commands."""
    server = fake_redis()
    client = app_for(server.port, REDIS_RETRIES=1).test_client()
    response = getattr(client, method)(path)
    assert response.status_code == 504
    assert response.get_json()["error"] == f"no reply from redis: {IN_DOUBT}"
    assert "Retry-After" not in response.headers
    assert [c[0].upper() for c in server.writes()] == [command]
    assert server.connections == 1, "no reconnection to resend the write"


def test_the_retrying_client_would_have_sent_it_twice(fake_redis):
    """Control: the same fault through redis-py's retrying client sends HINCRBY twice,
    so the test above would see a resend (one acknowledgement for two increments)."""
    server = fake_redis()
    app = app_for(server.port, REDIS_RETRIES=1)
    with pytest.raises(redis.exceptions.ConnectionError):
        get_state(app).store.client.hincrby("counters", "x", 1)
    assert len(server.writes()) == 2


@pytest.mark.parametrize(("method", "path"), [("post", "/api/counters/x/incr"), ("get", "/")])
def test_readonly_reply_is_503_not_applied(fake_redis, method, path):
    server = fake_redis(b"-READONLY You can't write against a read only replica.\r\n")
    client = app_for(server.port, REDIS_RETRIES=1).test_client()
    response = getattr(client, method)(path)
    assert response.status_code == 503
    assert response.get_json() == {"error": "redis unavailable"}
    assert response.headers["Retry-After"] == "1"
    assert len(server.writes()) == 1


def test_504_is_counted_in_metrics(fake_redis):
    server = fake_redis()
    client = app_for(server.port).test_client()
    assert client.post("/api/counters/x/incr").status_code == 504
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'counter_http_requests_total{endpoint="/api/counters/<name>/incr",method="POST",'
        'status="504"} 1' in text
    )


# --- nothing sent -------------------------------------------------------------------------


def test_redis_down_is_503_and_the_counter_does_not_move(redis_factory):
    server = redis_factory(args=["--appendonly", "yes", "--appendfsync", "always"])
    server.start()
    client = app_for(server.port, REDIS_RETRIES=1).test_client()
    assert client.put("/api/counters/d", json={"value": 5}).status_code == 201
    assert client.post("/api/counters/d/incr").get_json()["value"] == 6  # pooled connection
    assert client.get("/").status_code == 200

    server.stop()
    for method, path in (("post", "/api/counters/d/incr"), ("get", "/")):
        response = getattr(client, method)(path)
        assert response.status_code == 503
        assert response.get_json() == {"error": "redis unavailable"}
        assert response.headers["Retry-After"] == "1"

    server.start()  # same port and data directory: the AOF brings the data back
    assert client.get("/api/counters/d").get_json()["value"] == 6
    assert client.get("/").get_data(as_text=True) == "Hello! I have been seen 2 times.\n"


# --- WAIT for replicas --------------------------------------------------------------------


def replica_count(master) -> int:
    """Replicas connected to *master*, as it reports them."""
    with master.client(decode_responses=True) as m:
        return m.info("replication")["connected_slaves"]


def replica_acks(master) -> bool:
    """True once a probe write on *master* is confirmed by one replica through WAIT.

    A replica that has just synced counts as online before it answers WAIT's GETACK
    (observed: up to about a second), so "link up" is not enough.
    """
    with master.client(decode_responses=True) as m:
        m.set("probe", "1")
        return m.execute_command("WAIT", 1, 100) == 1


def test_wait_acknowledges_only_what_a_replica_holds(redis_factory, caplog):
    master = redis_factory(args=["--repl-diskless-sync-delay", "0"])  # sync at once, not in 5 s
    master.start()
    replica = redis_factory(args=["--replicaof", "127.0.0.1", str(master.port)])
    replica.start()
    wait_until(lambda: replica_acks(master), what="the replica to acknowledge writes")
    client = app_for(master.port, REDIS_WAIT_REPLICAS=1, REDIS_WAIT_TIMEOUT_MS=300).test_client()

    response = client.post("/api/counters/w/incr", json={"by": 3})
    assert response.status_code == 200
    assert response.get_json() == {"name": "w", "value": 3}
    assert client.get("/").status_code == 200
    with replica.client(decode_responses=True) as r:
        assert r.hget("counters", "w") == "3"  # WAIT returned: the replica has it already
        assert r.get("hits") == "1"

    replica.stop()
    wait_until(lambda: replica_count(master) == 0, what="the master to see the replica gone")
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    response = client.post("/api/counters/w/incr")
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.get_json() == {
        "error": f"applied on the master, confirmed by 0 of 1 replicas within 300 ms: {IN_DOUBT}"
    }
    assert 0.25 < elapsed < 1.5
    with master.client(decode_responses=True) as m:
        assert m.hget("counters", "w") == "4"  # applied on the master: "in doubt" was honest
    assert any("write in doubt" in r.getMessage() for r in caplog.records)


# --- Sentinel: the master the client knows was demoted ------------------------------------


def test_demoted_master_is_503_not_applied(sentinel, redis_factory, caplog):
    """redis-py turns READONLY from a Sentinel master into a ConnectionError ("The previous
    master is now a slave"): the write was refused, so 503, not 504."""
    port, master = sentinel
    other = redis_factory()
    other.start()
    client = create_app(
        {
            "REDIS_HOST": "unused.invalid",
            "REDIS_PASSWORD": "",
            "REDIS_SENTINELS": f"127.0.0.1:{port}",
            "REDIS_SENTINEL_MASTER": "mymaster",
            "REDIS_RETRIES": 1,
        }
    ).test_client()
    assert client.post("/api/counters/s/incr").get_json()["value"] == 1
    with master.client() as direct:
        direct.replicaof("127.0.0.1", str(other.port))  # the Sentinel still names it master
    caplog.set_level(logging.WARNING)
    response = client.post("/api/counters/s/incr")
    assert response.status_code == 503
    assert response.get_json() == {"error": "redis unavailable"}
    assert any("previous master is now a slave" in r.getMessage() for r in caplog.records)
    with other.client() as o:
        assert o.hget("counters", "s") is None
