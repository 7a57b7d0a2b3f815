"""The registry's htpasswd filter: bcrypt lines that verify, reuse, and refuse bad input."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest
from ansible.errors import AnsibleFilterError

from tests.pathload import load

ROOT = Path(__file__).resolve().parents[2]
mod = load("registry_htpasswd", "plugins/filter/registry_htpasswd.py")

AWKWARD = "p@ss $HOME: 'single' \"double\" and spaces"


def test_line_is_bcrypt_and_verifies_an_awkward_password() -> None:
    line = mod.registry_htpasswd(AWKWARD, "lab")
    user, _, hashed = line.partition(":")
    assert user == "lab"
    assert hashed.startswith("$2")
    assert bcrypt.checkpw(AWKWARD.encode(), hashed.encode())
    assert not bcrypt.checkpw(b"wrong", hashed.encode())


def test_matching_current_line_is_kept_and_a_new_password_replaces_it() -> None:
    first = mod.registry_htpasswd("secret-1", "lab")
    assert mod.registry_htpasswd("secret-1", "lab", first) == first
    second = mod.registry_htpasswd("secret-2", "lab", first)
    assert second != first
    assert bcrypt.checkpw(b"secret-2", second.partition(":")[2].encode())


@pytest.mark.parametrize(
    ("password", "user", "message"),
    [
        ("", "lab", "non-empty"),
        ("x" * 73, "lab", "72 bytes"),
        ("ok", "a:b", "without ':'"),
        ("ok", "", "without ':'"),
    ],
)
def test_bad_input_is_refused(password: str, user: str, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        mod.registry_htpasswd(password, user)
