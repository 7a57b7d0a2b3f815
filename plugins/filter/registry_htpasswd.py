"""bcrypt htpasswd lines for the lab registry (what `htpasswd -Bbn USER PASSWORD` prints).

Backends, first found: the `bcrypt` package, `passlib`, then the C library's crypt(3) through
Python's `crypt` module (glibc/libxcrypt hash bcrypt; the module exists up to Python 3.12).
An existing line is kept when it already matches the password, so a second run renders the
same htpasswd file and reports no change; a new password gives a new line.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from ansible.errors import AnsibleFilterError

ROUNDS = 10


def _backend() -> tuple[Callable[[str], str], Callable[[str, str], bool]]:
    try:
        import bcrypt

        def make(pw: str) -> str:
            return bcrypt.hashpw(pw.encode(), bcrypt.gensalt(ROUNDS)).decode()

        def check(pw: str, hashed: str) -> bool:
            return bcrypt.checkpw(pw.encode(), hashed.encode())

        return make, check
    except ImportError:
        pass
    try:
        from passlib.hash import bcrypt as passlib_bcrypt

        def make(pw: str) -> str:
            return passlib_bcrypt.using(rounds=ROUNDS, ident="2y").hash(pw)

        def check(pw: str, hashed: str) -> bool:
            return passlib_bcrypt.verify(pw, hashed)

        make("probe")  # passlib without a working bcrypt backend fails here
        return make, check
    except Exception:  # fall through to crypt(3)
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt

        def make(pw: str) -> str:
            return crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2**ROUNDS))

        def check(pw: str, hashed: str) -> bool:
            return crypt.crypt(pw, hashed) == hashed

        if not make("probe").startswith("$2"):
            raise ImportError("crypt(3) here does not hash bcrypt")
        return make, check
    except (ImportError, OSError, ValueError) as exc:
        raise AnsibleFilterError(
            "registry_htpasswd needs bcrypt hashing on the controller: "
            "pip install bcrypt (or passlib) into the Ansible environment"
        ) from exc


def registry_htpasswd(password: str, user: str, current: str = "") -> str:
    """Return the htpasswd line `user:$2...` for password, reusing `current` when it matches."""
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError("registry_htpasswd: the password must be a non-empty string")
    if ":" in user or not user:
        raise AnsibleFilterError("registry_htpasswd: the user must be non-empty, without ':'")
    if len(password.encode()) > 72:
        raise AnsibleFilterError("registry_htpasswd: bcrypt uses at most 72 bytes of a password")
    make, check = _backend()
    for line in (current or "").splitlines():
        name, sep, hashed = line.strip().partition(":")
        if sep and name == user and hashed.startswith("$2"):
            try:
                if check(password, hashed):
                    return f"{user}:{hashed}"
            except ValueError:
                pass
    return f"{user}:{make(password)}"


class FilterModule:
    """Filters of role registry."""

    def filters(self) -> dict[str, Callable[..., str]]:
        return {"registry_htpasswd": registry_htpasswd}
