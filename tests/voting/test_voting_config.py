"""Settings from the environment: defaults, overrides, secrets, errors naming the variable."""

from __future__ import annotations

import pytest
from voting import load_settings


def test_defaults():
    settings = load_settings({})
    assert (settings.redis_host, settings.redis_port) == ("redis", 6379)
    assert (settings.db_host, settings.db_port) == ("db", 5432)
    assert (settings.db_name, settings.db_user, settings.db_password) == ("postgres",) * 3
    assert settings.options == {"a": "Cats", "b": "Dogs"}
    assert settings.worker_health_file == "/tmp/worker-alive"
    assert settings.worker_health_max_age == 30


def test_overrides():
    settings = load_settings(
        {
            "REDIS_HOST": "r",
            "REDIS_PORT": "7000",
            "DB_HOST": "pg",
            "DB_PORT": 6543,
            "DB_NAME": "votes",
            "DB_USER": "u",
            "DB_PASSWORD": "p",
            "OPTION_A": "Tea",
            "OPTION_B": "Coffee",
        }
    )
    assert settings.redis_port == 7000 and settings.db_port == 6543
    assert settings.db_params()["dbname"] == "votes"
    assert settings.db_params()["password"] == "p"
    assert settings.options == {"a": "Tea", "b": "Coffee"}


def test_password_file_wins(tmp_path):
    secret = tmp_path / "db_password"
    secret.write_text("s3cret\n")
    settings = load_settings({"DB_PASSWORD": "plain", "DB_PASSWORD_FILE": str(secret)})
    assert settings.db_password == "s3cret"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_PORT", "abc"),
        ("REDIS_PORT", "0"),
        ("DB_PORT", "65536"),
        ("DB_HOST", " "),
        ("OPTION_A", ""),
        ("WORKER_POP_TIMEOUT", "0"),
        ("WORKER_HEALTH_MAX_AGE", "-1"),
        ("DB_PASSWORD_FILE", "/nonexistent/secret"),
    ],
)
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ValueError, match=name):
        load_settings({name: value})
