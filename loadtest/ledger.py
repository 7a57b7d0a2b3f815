"""A load client that keeps accounts: steady increments of one counter, every outcome recorded.

Used by the fault drills (chaos.yml, role chaos): while a fault is injected, the client sends
``POST /api/counters/NAME/incr`` at a fixed rate (open loop: the schedule does not wait for
answers, up to ``concurrency`` requests in flight) and classifies each request:

- ``ack``: a 2xx answer carrying the counter's new value: the write is acknowledged;
- ``failed``: certainly not applied: the connection was refused or could not be opened (nothing
  was sent), or an answer that says so (4xx, 503 "no server available", 500 from the app);
- ``doubt``: sent but the outcome is unknown: timed out or the connection was lost after
  sending, or a proxy's 502/504 (the server may have applied it before it failed).

Afterwards the counter is read again and the accounts are closed:
``lost = acknowledged - (final - initial)`` (acknowledged writes missing from the counter) and
``phantom = (final - initial) - acknowledged - in_doubt`` (writes nobody sent), plus two direct
proofs of loss: two acknowledgements with the same new value, and acknowledged values above the
final value. Also: the longest window without an acknowledgement (outage) and the time from the
fault (read from a marks file the drill writes) to the first acknowledgement after the last
failure (recovery), and from each mark to the first acknowledgement of a request sent after it.

    python -m loadtest.ledger --url http://HOST:80 --counter chaos-drain --rate 40 \\
        --duration 30 --marks marks.json --out ledger.json
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ACK, FAILED, DOUBT = "ack", "failed", "doubt"
# Answers of a proxy that may have passed the request on before the server failed.
DOUBT_STATUSES = {502, 504}


@dataclass(frozen=True)
class Outcome:
    """One request: when it started and ended (epoch seconds), how it ended."""

    sent: float
    done: float
    kind: str
    status: int | None = None
    value: int | None = None
    error: str = ""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    base_path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--url must be http(s)://HOST[:PORT], not {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=timeout)


def classify_answer(status: int, body: bytes) -> tuple[str, int | None]:
    """The kind of an HTTP answer to an increment, and the new value it carries."""
    if 200 <= status < 300:
        try:
            value = json.loads(body)["value"]
        except (ValueError, KeyError, TypeError):
            return DOUBT, None  # a success we cannot read: applied or not, we cannot tell
        if isinstance(value, int) and not isinstance(value, bool):
            return ACK, value
        return DOUBT, None
    if status in DOUBT_STATUSES:
        return DOUBT, None
    return FAILED, None


def increment(target: Target, counter: str, timeout: float) -> Outcome:
    """Send one increment on a fresh connection (a reused one that the server closed while idle
    would look like a lost answer) and classify what happened."""
    path = f"{target.base_path}/api/counters/{urllib.parse.quote(counter)}/incr"
    conn = target.connection(timeout)
    start = time.time()
    try:
        try:
            conn.connect()
        except OSError as exc:  # refused, unreachable, connect timeout: nothing was sent
            return Outcome(start, time.time(), FAILED, error=f"connect: {type(exc).__name__}")
        try:
            conn.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return Outcome(start, time.time(), DOUBT, error=f"after send: {type(exc).__name__}")
        kind, value = classify_answer(response.status, body)
        return Outcome(start, time.time(), kind, response.status, value)
    finally:
        conn.close()


def read_counter(target: Target, counter: str, timeout: float, wait: float) -> int:
    """The counter's value (0 when it does not exist yet), retried for up to `wait` seconds."""
    path = f"{target.base_path}/api/counters/{urllib.parse.quote(counter)}"
    deadline = time.monotonic() + wait
    last = "no attempt"
    while True:
        conn = target.connection(timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if response.status == 404:
                return 0
            if response.status == 200:
                return int(json.loads(body)["value"])
            last = f"HTTP {response.status}"
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        if time.monotonic() >= deadline:
            raise RuntimeError(f"cannot read counter {counter!r} at {path}: {last}")
        time.sleep(0.5)


def send_steadily(
    target: Target,
    counter: str,
    rate: float,
    duration: float,
    timeout: float,
    concurrency: int,
) -> tuple[list[Outcome], int]:
    """Requests due every 1/rate s for `duration` s. Returns the outcomes and how many were
    sent late because `concurrency` requests were already in flight."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    slots = threading.BoundedSemaphore(concurrency)
    late = 0

    def one() -> None:
        try:
            outcome = increment(target, counter, timeout)
            with lock:
                outcomes.append(outcome)
        finally:
            slots.release()

    total = int(rate * duration)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for i in range(total):
            due = start + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if not slots.acquire(blocking=False):
                late += 1
                slots.acquire()
            pool.submit(one)
    return sorted(outcomes, key=lambda o: o.sent), late


def longest_gap(acks: list[float], start: float, end: float) -> float:
    """The longest window in [start, end] without an acknowledgement."""
    points = [start, *sorted(acks), end]
    return max((b - a for a, b in itertools.pairwise(points)), default=end - start)


def recovery(outcomes: list[Outcome], fault_at: float | None) -> float | None:
    """Seconds from the fault to the first acknowledgement after the last non-acknowledged
    request that started after it; 0 when every request after the fault was acknowledged;
    None without a fault time or when the service never came back."""
    if fault_at is None:
        return None
    after = [o for o in outcomes if o.sent >= fault_at]
    bad = [o for o in after if o.kind != ACK]
    if not bad:
        return 0.0
    last_bad = max(o.sent for o in bad)
    back = [o.done for o in after if o.kind == ACK and o.sent > last_bad]
    return round(min(back) - fault_at, 3) if back else None


def first_ack_after(outcomes: list[Outcome], marks: dict[str, float]) -> dict[str, float | None]:
    """Per mark: seconds from it to the answer of the first acknowledged request sent at or
    after it (None when none was)."""
    out: dict[str, float | None] = {}
    for name, at in marks.items():
        done = [o.done for o in outcomes if o.kind == ACK and o.sent >= at]
        out[name] = round(min(done) - at, 3) if done else None
    return out


def read_marks(path: Path | None) -> dict[str, float]:
    """Event times (epoch seconds) the drill wrote while the client ran, e.g. {"fault": t}."""
    if path is None or not path.exists():
        return {}
    data = json.loads(path.read_text() or "{}")
    return {str(k): float(v) for k, v in data.items()}


def close_accounts(
    outcomes: list[Outcome],
    initial: int,
    final: int,
    start: float,
    end: float,
    marks: dict[str, float],
) -> dict[str, Any]:
    """The ledger's summary (see the module's docstring)."""
    kinds = Counter(o.kind for o in outcomes)
    acked = [o for o in outcomes if o.kind == ACK]
    acked_values = Counter(o.value for o in acked)
    delta = final - initial
    requests = len(outcomes)
    statuses = Counter(str(o.status) if o.status is not None else o.error for o in outcomes)
    return {
        "requests": requests,
        "acknowledged": kinds[ACK],
        "failed": kinds[FAILED],
        "in_doubt": kinds[DOUBT],
        "failed_pct": round(100.0 * kinds[FAILED] / requests, 3) if requests else 0.0,
        "initial": initial,
        "final": final,
        "delta": delta,
        "lost": kinds[ACK] - delta,
        "phantom": delta - kinds[ACK] - kinds[DOUBT],
        "duplicate_acks": sum(n - 1 for n in acked_values.values() if n > 1),
        "acks_above_final": sum(1 for o in acked if o.value is not None and o.value > final),
        "outage_s": round(longest_gap([o.done for o in acked], start, end), 3),
        "recovery_s": recovery(outcomes, marks.get("fault")),
        "marks": marks,
        "first_ack_after": first_ack_after(outcomes, marks),
        "start": start,
        "end": end,
        "answers": dict(sorted(statuses.items())),
        "timeline": timeline(outcomes, start),
    }


def timeline(outcomes: list[Outcome], start: float) -> list[dict[str, int]]:
    """Per second since the start: requests acknowledged, failed and in doubt (by start time)."""
    seconds: dict[int, Counter[str]] = {}
    for o in outcomes:
        seconds.setdefault(int(o.sent - start), Counter())[o.kind] += 1
    return [
        {"s": s, ACK: c[ACK], FAILED: c[FAILED], DOUBT: c[DOUBT]}
        for s, c in sorted(seconds.items())
    ]


def run(args: argparse.Namespace) -> dict[str, Any]:
    target = Target.parse(args.url)
    initial = read_counter(target, args.counter, args.timeout, args.read_wait)
    start = time.time()
    outcomes, late = send_steadily(
        target, args.counter, args.rate, args.duration, args.timeout, args.concurrency
    )
    end = time.time()
    time.sleep(args.settle)
    final = read_counter(target, args.counter, args.timeout, args.read_wait)
    summary = close_accounts(outcomes, initial, final, start, end, read_marks(args.marks))
    summary.update(
        url=args.url,
        counter=args.counter,
        rate=args.rate,
        duration=args.duration,
        timeout=args.timeout,
        sent_late=late,
    )
    if args.raw:
        args.raw.write_text(json.dumps([asdict(o) for o in outcomes]) + "\n")
    return summary


def positive(kind: type[float] | type[int]) -> Any:
    def parse(text: str) -> float | int:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest.ledger", description=__doc__.split("\n")[0]
    )
    p.add_argument("--url", required=True, help="base URL of the counter app (the stack's edge)")
    p.add_argument(
        "--counter", required=True, help="counter to increment (1-64 of A-Z a-z 0-9 _ . -)"
    )
    p.add_argument("--rate", type=positive(float), default=40.0, help="increments per second")
    p.add_argument("--duration", type=positive(float), default=30.0, help="seconds of load")
    p.add_argument("--timeout", type=positive(float), default=5.0, help="seconds per request")
    p.add_argument("--concurrency", type=positive(int), default=64, help="requests in flight")
    p.add_argument("--settle", type=float, default=1.0, help="seconds before the final read")
    p.add_argument("--read-wait", type=positive(float), default=60.0, help="seconds to retry reads")
    p.add_argument("--marks", type=Path, help="JSON {event: epoch seconds} written by the drill")
    p.add_argument("--out", type=Path, required=True, help="summary JSON")
    p.add_argument("--raw", type=Path, help="every outcome as JSON (optional)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        summary = run(args)
    except (RuntimeError, ValueError) as exc:
        print(f"ledger: {exc}")
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        "ledger: {requests} requests, {acknowledged} acknowledged, {failed} failed, "
        "{in_doubt} in doubt; counter {initial} -> {final}; lost {lost}, phantom {phantom}; "
        "outage {outage_s} s".format(**summary)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
