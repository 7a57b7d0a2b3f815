"""Backends: the Redis queue of votes and the Postgres table of results."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.errors
import redis

from .config import Settings

#: Redis list the vote app pushes to (RPUSH) and the worker pops from (BLPOP).
VOTES_KEY = "votes"
#: The two valid votes.
CHOICES = ("a", "b")
#: Voter ids: what the vote app generates (32 hex digits) and what clients may send.
VOTER_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

CREATE_TABLE = "CREATE TABLE IF NOT EXISTS votes (id text PRIMARY KEY, vote text NOT NULL)"
UPSERT = (
    "INSERT INTO votes (id, vote) VALUES (%s, %s) "
    "ON CONFLICT (id) DO UPDATE SET vote = EXCLUDED.vote"
)
COUNT = "SELECT vote, COUNT(id) FROM votes GROUP BY vote"

#: Errors meaning "the server is not reachable (now)": worth a reconnect, not a crash.
REDIS_DOWN: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
DB_DOWN: tuple[type[Exception], ...] = (psycopg2.OperationalError, psycopg2.InterfaceError)


@dataclass(frozen=True)
class Vote:
    """One ballot: who (``voter_id``) chose what (``"a"`` or ``"b"``)."""

    voter_id: str
    vote: str

    def to_json(self) -> str:
        return json.dumps({"voter_id": self.voter_id, "vote": self.vote})


def valid_voter_id(value: Any) -> bool:
    """True if *value* is an acceptable voter id."""
    return isinstance(value, str) and VOTER_ID_RE.fullmatch(value) is not None


def parse_vote(raw: str | bytes) -> Vote:
    """Decode a queued vote; ``ValueError`` if it is not ``{"voter_id", "vote"}``."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    voter_id, vote = data.get("voter_id"), data.get("vote")
    if not valid_voter_id(voter_id):
        raise ValueError("bad voter_id")
    if vote not in CHOICES:
        raise ValueError("vote must be 'a' or 'b'")
    return Vote(voter_id, vote)


def make_redis(settings: Settings, *, socket_timeout: float | None = None) -> redis.Redis:
    """Return a Redis client (connects lazily; short timeouts so outages show quickly)."""
    timeout = settings.redis_socket_timeout if socket_timeout is None else socket_timeout
    return redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        socket_timeout=timeout,
        socket_connect_timeout=settings.redis_socket_timeout,
        health_check_interval=30,
        decode_responses=True,
    )


def push_vote(client: redis.Redis, vote: Vote) -> None:
    """Queue *vote* for the worker."""
    client.rpush(VOTES_KEY, vote.to_json())


def connect_db(settings: Settings) -> Any:
    """Open a new Postgres connection (``psycopg2`` connection object)."""
    return psycopg2.connect(**settings.db_params())


def ensure_schema(conn: Any) -> None:
    """Create the ``votes`` table if it is missing (safe when several workers race)."""
    try:
        with conn, conn.cursor() as cur:
            cur.execute(CREATE_TABLE)
    except (psycopg2.errors.UniqueViolation, psycopg2.errors.DuplicateTable):
        # two workers ran CREATE TABLE IF NOT EXISTS at once: the other one created it
        pass


def save_vote(conn: Any, vote: Vote) -> None:
    """Insert the voter's vote, or replace it (the last vote wins); commits."""
    with conn, conn.cursor() as cur:
        cur.execute(UPSERT, (vote.voter_id, vote.vote))


def count_votes(conn: Any) -> dict[str, int]:
    """Return ``{"a": n, "b": m}``; zeros while the table does not exist yet."""
    counts = dict.fromkeys(CHOICES, 0)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(COUNT)
            rows = cur.fetchall()
    except psycopg2.errors.UndefinedTable:
        return counts
    for vote, count in rows:
        if vote in counts:
            counts[vote] = int(count)
    return counts


def ping_db(conn: Any) -> None:
    """Run ``SELECT 1`` (raises if the server does not answer)."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchone()
