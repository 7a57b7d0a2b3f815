"""Settings of the three voting components, read from the environment (12-factor style)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Environment variables read by :func:`load_settings`, with their defaults.
DEFAULTS: dict[str, str] = {
    "REDIS_HOST": "redis",
    "REDIS_PORT": "6379",
    "REDIS_SOCKET_TIMEOUT": "2.0",
    "DB_HOST": "db",
    "DB_PORT": "5432",
    "DB_NAME": "postgres",
    "DB_USER": "postgres",
    "DB_PASSWORD": "postgres",
    "DB_PASSWORD_FILE": "",
    "DB_CONNECT_TIMEOUT": "3",
    "OPTION_A": "Cats",
    "OPTION_B": "Dogs",
    "WORKER_HEALTH_FILE": "/tmp/worker-alive",
    "WORKER_HEALTH_MAX_AGE": "30",
    "WORKER_POP_TIMEOUT": "1",
}


@dataclass(frozen=True)
class Settings:
    """Where Redis and Postgres are, the two options, and the worker's knobs."""

    redis_host: str = "redis"
    redis_port: int = 6379
    redis_socket_timeout: float = 2.0
    db_host: str = "db"
    db_port: int = 5432
    db_name: str = "postgres"
    db_user: str = "postgres"
    db_password: str = "postgres"
    db_connect_timeout: int = 3
    option_a: str = "Cats"
    option_b: str = "Dogs"
    worker_health_file: str = "/tmp/worker-alive"
    worker_health_max_age: float = 30.0
    worker_pop_timeout: int = 1

    @property
    def options(self) -> dict[str, str]:
        """``{"a": label, "b": label}``."""
        return {"a": self.option_a, "b": self.option_b}

    def db_params(self) -> dict[str, object]:
        """Keyword arguments for ``psycopg2.connect``."""
        return {
            "host": self.db_host,
            "port": self.db_port,
            "dbname": self.db_name,
            "user": self.db_user,
            "password": self.db_password,
            "connect_timeout": self.db_connect_timeout,
            "application_name": "voting",
        }


def _int(name: str, raw: str, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= {minimum}{upper}, got {value}")
    return value


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {raw!r}")
    return value


def load_settings(environ: Mapping[str, object] | None = None) -> Settings:
    """Build :class:`Settings` from *environ* (default ``os.environ``).

    Values may be strings (environment) or already typed (``create_app`` mapping).
    ``DB_PASSWORD_FILE`` (a Docker secret) wins over ``DB_PASSWORD``.
    Raises ``ValueError`` naming the variable on bad input.
    """
    env: Mapping[str, object] = os.environ if environ is None else environ

    def get(name: str) -> str:
        value = env.get(name)
        return DEFAULTS[name] if value is None else str(value)

    def required(name: str) -> str:
        value = get(name).strip()
        if not value:
            raise ValueError(f"{name} must not be empty")
        return value

    password = get("DB_PASSWORD")
    password_file = get("DB_PASSWORD_FILE").strip()
    if password_file:
        try:
            password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"DB_PASSWORD_FILE: cannot read {password_file}: {exc}") from None
    return Settings(
        redis_host=required("REDIS_HOST"),
        redis_port=_int("REDIS_PORT", get("REDIS_PORT"), 1, 65535),
        redis_socket_timeout=_positive_float("REDIS_SOCKET_TIMEOUT", get("REDIS_SOCKET_TIMEOUT")),
        db_host=required("DB_HOST"),
        db_port=_int("DB_PORT", get("DB_PORT"), 1, 65535),
        db_name=required("DB_NAME"),
        db_user=required("DB_USER"),
        db_password=password,
        db_connect_timeout=_int("DB_CONNECT_TIMEOUT", get("DB_CONNECT_TIMEOUT"), 1, 60),
        option_a=required("OPTION_A"),
        option_b=required("OPTION_B"),
        worker_health_file=required("WORKER_HEALTH_FILE"),
        worker_health_max_age=_positive_float(
            "WORKER_HEALTH_MAX_AGE", get("WORKER_HEALTH_MAX_AGE")
        ),
        worker_pop_timeout=_int("WORKER_POP_TIMEOUT", get("WORKER_POP_TIMEOUT"), 1, 60),
    )
