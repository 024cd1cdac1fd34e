"""The real node's footprint in the host's network stack, and removing it again.

Why: the node's pods live on a bridge in the host's network namespace, and
kube-proxy and kube-router write iptables rules and ipsets there. Nothing of
it may outlive the cluster, and no packet may ever leave the machine: the
harness owns the bridge, adds ``unreachable`` routes for the Service and pod
ranges (so a missing NAT rule fails locally instead of following the default
route) and a policy-routing rule that sends everything arriving from the
bridge to a table with only the bridge's own subnet and an ``unreachable``
default (so a pod's packet can never be routed out), and on stop (or on the
next start, after a crash) removes the bridge,
the routes, every ``KUBE-*`` chain, the CNI rules of its own network and the
kube-router ipsets. The host's IP forwarding switch stays as it is (off
here); only the bridge forwards, and only back onto itself: Service traffic
is DNAT'ed in the host's PREROUTING and then routed to the backend pod on the
bridge, which needs ``net.ipv4.conf.<bridge>.forwarding=1`` on recent kernels
(``br_netfilter``'s "bridged DNAT without forwarding" path no longer applies).
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import subprocess
from pathlib import Path

from .components import POD_CIDR, SERVICE_CIDR
from .nodeconfig import BRIDGE, CNI_NETWORK, NODE_IP, NODE_IP_PREFIX
from .nodes import REAL_NODE_POD_CIDR

log = logging.getLogger("seedcoder_dev.devcluster")

BLACKHOLED = (SERVICE_CIDR, POD_CIDR)
# Policy routing for packets that arrive from the bridge: only the bridge subnet is reachable.
ROUTE_TABLE = "1044"
RULE_PRIORITY = "1044"
OWN_CHAIN_PREFIXES = ("KUBE-",)
OWN_IPSET_PREFIXES = ("KUBE-", "kube-router", "inet6:KUBE-", "inet6:kube-router")
_TABLES = ("filter", "nat", "mangle", "raw")


def _run(*argv: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), input=input, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def bridge_exists() -> bool:
    return Path(f"/sys/class/net/{BRIDGE}").exists()


def setup() -> None:
    """Create the bridge with the node's address and blackhole the cluster's ranges."""
    if not bridge_exists():
        _run("ip", "link", "add", "name", BRIDGE, "type", "bridge")
    # The bridge is ours: no IPv6 autoconfiguration chatter on it.
    with contextlib.suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{BRIDGE}/disable_ipv6").write_text("1\n")
    _run("ip", "addr", "replace", f"{NODE_IP}/{NODE_IP_PREFIX}", "dev", BRIDGE)
    _run("ip", "link", "set", BRIDGE, "up")
    # A pod's packet to a ClusterIP is DNAT'ed to a pod on the same bridge and must be routed
    # back onto it: that needs forwarding on this one interface (the host-wide switch stays
    # off), and the policy-routing rule below lets it go nowhere but the bridge.
    Path(f"/proc/sys/net/ipv4/conf/{BRIDGE}/forwarding").write_text("1\n")
    for cidr in BLACKHOLED:
        _run("ip", "route", "replace", "unreachable", cidr)
    _run("ip", "route", "replace", REAL_NODE_POD_CIDR, "dev", BRIDGE, "table", ROUTE_TABLE)
    _run("ip", "route", "replace", "unreachable", "default", "table", ROUTE_TABLE)
    _run("ip", "rule", "del", "priority", RULE_PRIORITY, check=False)
    _run("ip", "rule", "add", "priority", RULE_PRIORITY, "iif", BRIDGE, "lookup", ROUTE_TABLE)
    log.info(
        "Created bridge %s (%s/%d) and unreachable routes for %s", BRIDGE, NODE_IP, NODE_IP_PREFIX, BLACKHOLED
    )


def _owned_chain(name: str) -> bool:
    return name.startswith(OWN_CHAIN_PREFIXES)


def _sweep_table(save: str, restore: str, table: str) -> int:
    dump = _run(save, "-t", table, check=False)
    if dump.returncode != 0:
        return 0
    chains = [line[1:].split()[0] for line in dump.stdout.splitlines() if line.startswith(":")]
    rules = [line for line in dump.stdout.splitlines() if line.startswith("-A ")]
    owned = {c for c in chains if _owned_chain(c)}
    deletes: list[str] = []
    for rule in rules:
        chain = rule.split()[1]
        target = re.search(r" -[jg] (\S+)", rule)
        jumps_to_owned = target is not None and target.group(1) in owned
        # Rules the CNI portmap plugin wrote for pods of our network name it in a comment.
        ours_by_comment = f'name: \\"{CNI_NETWORK}\\"' in rule or f'name: "{CNI_NETWORK}"' in rule
        if ours_by_comment and target is not None and target.group(1).startswith("CNI-DN-"):
            owned.add(target.group(1))
        if chain not in owned and (jumps_to_owned or ours_by_comment):
            deletes.append("-D " + rule[3:])
    if not owned and not deletes:
        return 0
    script = [f"*{table}", *deletes]
    script += [f"-F {c}" for c in sorted(owned)]
    script += [f"-X {c}" for c in sorted(owned)]
    script.append("COMMIT")
    result = _run(restore, "--noflush", input="\n".join(script) + "\n", check=False)
    if result.returncode != 0:
        log.warning(
            "Could not remove the node's %s rules from table %s: %s", save, table, result.stderr.strip()
        )
    return len(owned) + len(deletes)


def sweep_iptables() -> int:
    """Remove every KUBE-* chain (kube-proxy, kube-router, kubelet) and the rules jumping to them."""
    removed = 0
    for family in ("iptables", "ip6tables"):
        save, restore = f"{family}-save", f"{family}-restore"
        if shutil.which(save) is None or shutil.which(restore) is None:
            continue
        for table in _TABLES:
            removed += _sweep_table(save, restore, table)
    return removed


def sweep_ipsets() -> int:
    if shutil.which("ipset") is None:
        return 0
    names = [
        n for n in _run("ipset", "list", "-n", check=False).stdout.split() if n.startswith(OWN_IPSET_PREFIXES)
    ]
    for name in names:
        _run("ipset", "destroy", name, check=False)
    return len(names)


def teardown() -> None:
    """Remove rules, ipsets, routes and the bridge (idempotent; safe when nothing is there)."""
    chains = sweep_iptables()
    sets = sweep_ipsets()
    for cidr in BLACKHOLED:
        _run("ip", "route", "del", "unreachable", cidr, check=False)
    _run("ip", "rule", "del", "priority", RULE_PRIORITY, "iif", BRIDGE, check=False)
    _run("ip", "route", "flush", "table", ROUTE_TABLE, check=False)
    had_bridge = bridge_exists()
    if had_bridge:
        _run("ip", "link", "del", BRIDGE, check=False)
    if chains or sets or had_bridge:
        log.info(
            "Removed the node's network footprint (%d rule/chain edits, %d ipsets, bridge %s)",
            chains,
            sets,
            BRIDGE,
        )


def leftovers() -> list[str]:
    """What of the node's network footprint is still on the host (empty after ``teardown``)."""
    found: list[str] = []
    if bridge_exists():
        found.append(f"bridge {BRIDGE}")
    routes = _run("ip", "route", "show", "type", "unreachable", check=False).stdout
    found += [f"route unreachable {c}" for c in BLACKHOLED if c in routes]
    if f"lookup {ROUTE_TABLE}" in _run("ip", "rule", "show", check=False).stdout:
        found.append(f"ip rule to table {ROUTE_TABLE}")
    if _run("ip", "route", "show", "table", ROUTE_TABLE, check=False).stdout.strip():
        found.append(f"routes in table {ROUTE_TABLE}")
    for table in _TABLES:
        dump = _run("iptables-save", "-t", table, check=False).stdout
        found += [
            f"{table} chain {line[1:].split()[0]}" for line in dump.splitlines() if line.startswith(":KUBE-")
        ]
    if shutil.which("ipset"):
        sets = _run("ipset", "list", "-n", check=False).stdout.split()
        found += [f"ipset {n}" for n in sets if n.startswith(OWN_IPSET_PREFIXES)]
    return found
