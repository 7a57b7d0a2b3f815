"""The worker: moves votes from the Redis list ``votes`` into the Postgres table ``votes``.

Run: ``python3 -m voting.worker`` (stops cleanly on SIGTERM/SIGINT, exit 0).
Health: ``python3 -m voting.worker --check`` exits 0 while the health file
(WORKER_HEALTH_FILE, /tmp/worker-alive) was touched less than WORKER_HEALTH_MAX_AGE
(30) seconds ago; the loop touches it after every round trip to Redis (at least every
WORKER_POP_TIMEOUT + a little seconds while Redis and Postgres answer), so a worker that
cannot reach them turns unhealthy.

Each iteration pops one vote (BLPOP, WORKER_POP_TIMEOUT seconds) and upserts it: one row
per voter, the last vote processed wins. (With several worker replicas, two votes of one
voter popped within the same instant by two workers may be stored in either order, as in
the dockersamples original.) A vote popped but not yet stored is kept and retried after a
reconnect, or pushed back to the head of the list on shutdown. Lost connections are retried
with exponential backoff (0.5 s doubling to 5 s), each failure logged.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg2
import redis

from .config import Settings, load_settings
from .store import (
    DB_DOWN,
    REDIS_DOWN,
    VOTES_KEY,
    Vote,
    connect_db,
    ensure_schema,
    make_redis,
    parse_vote,
    save_vote,
)

log = logging.getLogger("voting.worker")


class Backoff:
    """Exponential delays: *initial*, doubled after every failure, at most *maximum*."""

    def __init__(self, initial: float = 0.5, maximum: float = 5.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * 2**self.failures)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class Worker:
    """The processing loop; :meth:`run_once` is one iteration, :meth:`run` the loop."""

    def __init__(
        self,
        settings: Settings,
        *,
        stop: threading.Event | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.stop_event = stop or threading.Event()
        self.backoff = backoff or Backoff()
        self.health_file = Path(settings.worker_health_file)
        self.redis: redis.Redis | None = None
        self.db: Any = None
        self.pending: Vote | None = None
        self.processed = 0
        self.dropped = 0

    # connections -------------------------------------------------------------------------

    def _connect(self) -> tuple[redis.Redis, Any]:
        if self.db is None or self.db.closed:
            s = self.settings
            self.db = connect_db(s)
            ensure_schema(self.db)
            log.info("connected to postgres %s:%s/%s", s.db_host, s.db_port, s.db_name)
        if self.redis is None:
            # the socket must outlive the blocking pop
            timeout = self.settings.worker_pop_timeout + self.settings.redis_socket_timeout
            client = make_redis(self.settings, socket_timeout=timeout)
            try:
                client.ping()
            except BaseException:
                client.close()
                raise
            self.redis = client
            log.info("connected to redis %s:%s", self.settings.redis_host, self.settings.redis_port)
        return self.redis, self.db

    def _close_redis(self) -> None:
        if self.redis is not None:
            try:
                self.redis.close()
            except Exception:  # closing a broken connection must not stop the loop
                log.debug("closing redis failed", exc_info=True)
            self.redis = None

    def _close_db(self) -> None:
        if self.db is not None:
            try:
                self.db.close()
            except Exception:
                log.debug("closing postgres failed", exc_info=True)
            self.db = None

    # the loop ----------------------------------------------------------------------------

    def step(self) -> bool:
        """Pop one vote (or retry the pending one) and store it; True if a vote was stored.

        Backend errors propagate; :meth:`run_once` handles them.
        """
        client, db = self._connect()
        if self.pending is None:
            item = client.blpop([VOTES_KEY], timeout=self.settings.worker_pop_timeout)
            if item is not None:
                try:
                    self.pending = parse_vote(item[1])
                except ValueError as exc:
                    self.dropped += 1
                    log.warning("dropped a malformed vote (%s): %.200r", exc, item[1])
        stored = False
        if self.pending is not None:
            save_vote(db, self.pending)
            log.debug("stored %s=%s", self.pending.voter_id, self.pending.vote)
            self.pending = None
            self.processed += 1
            stored = True
        self.touch()
        return stored

    def run_once(self) -> bool:
        """One iteration with error handling: a lost backend is logged, closed, waited for."""
        try:
            stored = self.step()
        except REDIS_DOWN as exc:
            self._close_redis()
            self._failed("redis", exc)
            return False
        except DB_DOWN as exc:
            self._close_db()
            self._failed("postgres", exc)
            return False
        except psycopg2.Error as exc:  # unexpected SQL error: start again with a new session
            self._close_db()
            self._failed("postgres", exc)
            return False
        if self.backoff.failures:
            log.info("backends reachable again")
        self.backoff.reset()
        return stored

    def _failed(self, what: str, exc: Exception) -> None:
        delay = self.backoff.next_delay()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        log.warning(
            "%s unavailable (%s: %.200s); retrying in %.1f s",
            what,
            type(exc).__name__,
            message,
            delay,
        )
        self.stop_event.wait(delay)

    def run(self, iterations: int | None = None) -> int:
        """Loop until stopped (or *iterations* done); return the number of votes stored."""
        log.info("worker started (queue %r)", VOTES_KEY)
        done = 0
        try:
            while not self.stop_event.is_set() and (iterations is None or done < iterations):
                self.run_once()
                done += 1
        finally:
            self.shutdown()
        log.info("worker stopped: %d vote(s) stored, %d dropped", self.processed, self.dropped)
        return self.processed

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current iteration."""
        self.stop_event.set()

    def shutdown(self) -> None:
        """Store or requeue a pending vote, close connections, remove the health file."""
        if self.pending is not None:
            self._flush_pending()
        self._close_redis()
        self._close_db()
        self.health_file.unlink(missing_ok=True)

    def _flush_pending(self) -> None:
        vote = self.pending
        assert vote is not None
        try:
            if self.db is not None and not self.db.closed:
                save_vote(self.db, vote)
                self.processed += 1
                self.pending = None
                return
        except psycopg2.Error as exc:
            log.warning("could not store the pending vote: %s", type(exc).__name__)
        try:
            client = self.redis or make_redis(self.settings)
            client.lpush(VOTES_KEY, vote.to_json())
            self.pending = None
            log.info("pushed the pending vote back to %r", VOTES_KEY)
        except REDIS_DOWN as exc:
            log.error("lost the pending vote of %s: %s", vote.voter_id, type(exc).__name__)

    def touch(self) -> None:
        """Mark the worker alive (mtime of the health file)."""
        try:
            self.health_file.touch()
        except OSError as exc:
            log.warning("cannot touch %s: %s", self.health_file, exc)


def check(settings: Settings, now: float | None = None) -> int:
    """Health check: 0 if the health file is fresher than the maximum age, else 1."""
    path = Path(settings.worker_health_file)
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except OSError:
        print(f"unhealthy: {path} does not exist", file=sys.stderr)
        return 1
    if age >= settings.worker_health_max_age:
        print(f"unhealthy: {path} is {age:.0f} s old", file=sys.stderr)
        return 1
    print(f"healthy: {path} is {age:.1f} s old")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m voting.worker``."""
    parser = argparse.ArgumentParser(prog="python -m voting.worker", description=__doc__)
    parser.add_argument("--check", action="store_true", help="health check and exit")
    parser.add_argument("--iterations", type=int, default=None, help="stop after N iterations")
    parser.add_argument("--log-level", default="INFO", help="logging level (INFO)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s worker[%(process)d] %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = load_settings()
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        return check(settings)

    worker = Worker(settings)

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        worker.stop()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    worker.run(args.iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
