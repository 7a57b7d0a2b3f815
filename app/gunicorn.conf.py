"""Gunicorn settings, read from the environment.

GUNICORN_BIND (0.0.0.0:8000), GUNICORN_WORKERS (2), GUNICORN_THREADS (4),
GUNICORN_TIMEOUT (30), GUNICORN_GRACEFUL_TIMEOUT (10), GUNICORN_KEEPALIVE (5),
GUNICORN_ACCESSLOG (unset = off, "-" = stdout), GUNICORN_LOGLEVEL (info),
GUNICORN_CONTROL_SOCKET (unset = no control socket).
Each worker is a separate process with its own Redis connection pool and its own
/metrics registry (a scrape shows the worker that answered it).
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"{name} must be >= {minimum}, got {value}")
    return value


wsgi_app = "counter:create_app()"
bind = [os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")]
workers = _env_int("GUNICORN_WORKERS", 2)
threads = _env_int("GUNICORN_THREADS", 4)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 10)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# recent gunicorn opens a control socket under $HOME by default; the container user has
# no home and servers on one host would share it: off unless a path is given
# (older gunicorn ignores both names).
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
# heartbeat files on tmpfs: an overlay filesystem can stall workers under load
if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
    worker_tmp_dir = "/dev/shm"
