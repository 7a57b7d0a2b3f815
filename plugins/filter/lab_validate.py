"""Filters of role lab_validate: check a run's variables against roles' argument specs.

`lab_spec_errors(values, specs)` returns one line per bad value, naming the variable, the value
it got (masked for no_log options) and what is allowed, e.g.
  registry_mode = 'bogus': must be one of tls, tls_auth (role registry)
It checks only the variables a user set (inventory, group_vars, extra vars): a role's own
defaults are its business, and options that a play sets per include (stack_name) are not
required here.

`lab_inventory_errors(groups, hostvars_conn, required)` checks the inventory's groups.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

MASK = "********"
# Spec keys that describe documentation, not validation.
_DOC_KEYS = {"description", "version_added", "default", "required"}


def _option_specs(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Merge the options of every entry point of one role's argument_specs.yml."""
    merged: dict[str, dict[str, Any]] = {}
    for entry in (spec.get("argument_specs") or {}).values():
        for name, opt in ((entry or {}).get("options") or {}).items():
            merged.setdefault(name, dict(opt or {}))
    return merged


def _strip(opt: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in opt.items() if k not in _DOC_KEYS}
    if "options" in out and isinstance(out["options"], Mapping):
        out["options"] = {k: _strip(v or {}) for k, v in out["options"].items()}
    return out


def _show(value: Any, secret: bool) -> str:
    if secret:
        return MASK
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _allowed(opt: Mapping[str, Any]) -> str:
    if "choices" in opt:
        return "must be one of " + ", ".join(str(c) for c in opt["choices"])
    kind = opt.get("type", "str")
    if kind == "list" and "elements" in opt:
        return f"must be a list of {opt['elements']}"
    article = "an" if str(kind)[0] in "aeiou" else "a"
    return f"must be {article} {kind}"


def _name_in(message: str, names: list[str]) -> str | None:
    """The option an ArgumentSpecValidator message is about (longest name first)."""
    for name in sorted(names, key=len, reverse=True):
        if re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", message):
            return name
    return None


def lab_spec_errors(values: Mapping[str, Any], specs: Mapping[str, Any]) -> list[str]:
    """One line per value that a role's argument spec refuses.

    values: variable name -> value as the run sees it.
    specs: role name -> the parsed content of the role's meta/argument_specs.yml.
    """
    errors: list[str] = []
    seen: set[str] = set()
    for role in sorted(specs):
        options = _option_specs(specs[role])
        given = {k: v for k, v in values.items() if k in options}
        if not given:
            continue
        checked = {k: _strip(options[k]) for k in given}
        result = ArgumentSpecValidator(checked).validate(dict(given))
        for err in result.errors:
            message = str(err)
            name = _name_in(message, list(given))
            if name is None:
                line = f"{message} (role {role})"
            else:
                opt = options[name]
                secret = bool(opt.get("no_log"))
                line = f"{name} = {_show(given[name], secret)}: {_allowed(opt)} (role {role})"
            if line not in seen:
                seen.add(line)
                errors.append(line)
    return errors


def lab_inventory_errors(
    groups: Mapping[str, list[str]],
    connections: Mapping[str, str],
    required: list[str],
    disjoint: list[list[str]] | None = None,
) -> list[str]:
    """One line per inventory problem: empty groups, overlapping groups, mixed connections.

    groups: the inventory's groups (name -> hosts). connections: host -> ansible_connection of
    the hosts of swarm_cluster. required: groups that must hold at least one host.
    disjoint: pairs of groups that must not share a host.
    """
    errors: list[str] = []
    populated = sorted(g for g, h in groups.items() if h and g not in ("all", "ungrouped"))
    for group in required:
        if not groups.get(group):
            errors.append(
                f"inventory group '{group}' has no host: this run needs it "
                f"(groups with hosts: {', '.join(populated) or 'none'})"
            )
    for pair in disjoint or []:
        first, second = pair
        both = sorted(set(groups.get(first) or []) & set(groups.get(second) or []))
        if both:
            errors.append(
                f"hosts in both '{first}' and '{second}': {', '.join(both)} "
                "(a node is a manager or a worker)"
            )
    kinds = {
        host: ("container" if conn in ("community.docker.docker", "docker") else "ssh/other")
        for host, conn in connections.items()
    }
    if len(set(kinds.values())) > 1:
        detail = ", ".join(f"{h} ({connections[h]})" for h in sorted(kinds))
        errors.append(
            "swarm_cluster mixes lab containers and SSH hosts in one swarm, which is not "
            f"supported: {detail}. Use inventory/local.yml or an inventory of VMs only."
        )
    return errors


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def lab_reach_errors(
    hosts: list[Mapping[str, Any]], expected: list[str] | None = None
) -> list[str]:
    """One line per SSH host that did not answer a ping or could not become root.

    hosts: one entry per checked host: {host, ping (the registered ping result), user,
    address, connection, become (bool), become_method}. expected: every host that should have
    an entry; one without (its check itself failed) is refused too.
    """
    errors: list[str] = []
    checked = {str(info.get("host")) for info in hosts}
    for host in sorted(set(expected or []) - checked):
        errors.append(f"host {host} did not complete the SSH check (see the error above)")
    for info in sorted(hosts, key=lambda i: str(i.get("host"))):
        host = info.get("host")
        ping = info.get("ping")
        if not isinstance(ping, Mapping) or ping.get("skipped"):
            continue
        unreachable = bool(ping.get("unreachable"))
        if not unreachable and not ping.get("failed"):
            continue
        who = f"{info.get('user') or '?'}@{info.get('address') or host}"
        where = f"host {host} ({who}, connection {info.get('connection') or 'ssh'})"
        if unreachable:
            what = "is unreachable"
        elif info.get("become"):
            method = info.get("become_method") or "sudo"
            what = f"does not let {info.get('user') or 'the user'} become root ({method})"
        else:
            what = "failed the ping"
        reason = _one_line(ping.get("msg") or ping.get("module_stderr") or "")
        reason = re.sub(r"^Task failed:\s*", "", reason)
        errors.append(f"{where} {what}: {reason}" if reason else f"{where} {what}")
    return errors


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "lab_spec_errors": lab_spec_errors,
            "lab_inventory_errors": lab_inventory_errors,
            "lab_reach_errors": lab_reach_errors,
        }
