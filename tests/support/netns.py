"""Test hosts made of Linux network namespaces, for tests that need several machines.

One run makes a switch (a bridge in a namespace of its own, so the machine's own firewall
never sees the traffic), one namespace per host, each joined to the switch by a veth
link, and one link from the test process's own namespace, which is the API host. Every
address is in one private /24 used only here; the hosts have no route anywhere else, so
their only traffic is to each other and their loopback. Names carry a per-run token, and
`teardown` removes everything (processes first: a namespace lives on while a process
is in it)."""
from __future__ import annotations

import fcntl
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Subnets 10.231.<n>.0/24 for n in this range; a run takes the first one nobody holds (a
# lock file per subnet), so concurrent runs on one machine never share addresses.
SUBNETS = range(77, 85)
LOCK_DIR = Path("/tmp")


class NetnsUnavailable(RuntimeError):
    """`ip netns add` is not permitted here (no privileges, no iproute2)."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


@dataclass
class Hosts:
    token: str
    subnet: str                                 # e.g. "10.231.77"
    api_ip: str = ""
    addresses: dict[str, str] = field(default_factory=dict)   # host -> its address
    namespaces: dict[str, str] = field(default_factory=dict)  # host -> namespace name
    hub: str = ""
    root_link: str = ""
    lock: IO | None = None

    def exec_prefix(self, host: str) -> list[str]:
        """Run a command on `host`."""
        return ["ip", "netns", "exec", self.namespaces[host]]

    def cut(self, host: str) -> None:
        """Unplug `host` at the switch: its packets vanish, its connections hang (no reset)."""
        ip("-n", self.hub, "link", "set", "dev", host, "down")

    def reconnect(self, host: str) -> None:
        ip("-n", self.hub, "link", "set", "dev", host, "up")

    def teardown(self) -> None:
        """Kill what still runs on the hosts, then remove the namespaces and links (bounded)."""
        for ns in [*self.namespaces.values(), self.hub]:
            _kill_inside(ns)
        if self.root_link:
            ip("link", "del", "dev", self.root_link, check=False)
        for ns in [*self.namespaces.values(), self.hub]:
            ip("netns", "del", ns, check=False)
        if self.lock is not None:
            self.lock.close()
            self.lock = None


def _kill_inside(ns: str) -> None:
    """SIGKILL every process left in namespace `ns` (only this run's: the name is unique)."""
    for _ in range(5):
        out = ip("netns", "pids", ns, check=False).stdout.split()
        if not out:
            return
        for pid in out:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


def _take_subnet() -> tuple[str, IO]:
    in_use = ip("-4", "-o", "addr", "show").stdout
    for n in SUBNETS:
        subnet = f"10.231.{n}"
        lock = open(LOCK_DIR / f"sluice-netns-{subnet}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        if f" {subnet}." in in_use:      # left by a run that was killed before its teardown
            lock.close()
            continue
        return subnet, lock
    raise NetnsUnavailable(f"every test subnet 10.231.{SUBNETS.start}-{SUBNETS.stop - 1}.0/24 is in use")


def make_hosts(names: list[str]) -> Hosts:
    """The API host (this process) at .1, then `names` at .2, .3, … of a free test subnet."""
    try:
        probe = ip("netns", "add", f"sl-probe-{secrets.token_hex(3)}", check=False)
    except FileNotFoundError as exc:
        raise NetnsUnavailable("the `ip` command (iproute2) is not installed") from exc
    if probe.returncode != 0:
        raise NetnsUnavailable(f"`ip netns add` is not permitted: {probe.stderr.strip()}")
    ip("netns", "del", probe.args[3], check=False)
    subnet, lock = _take_subnet()
    token = secrets.token_hex(3)
    hosts = Hosts(token, subnet, api_ip=f"{subnet}.1", hub=f"sl-{token}-hub", root_link=f"sl{token}", lock=lock)
    try:
        ip("netns", "add", hosts.hub)
        ip("-n", hosts.hub, "link", "add", "br0", "type", "bridge")
        ip("-n", hosts.hub, "link", "set", "dev", "br0", "up")
        _join(hosts, "api", None, hosts.api_ip)
        for i, name in enumerate(names, start=2):
            ns = f"sl-{token}-{name}"
            hosts.namespaces[name], hosts.addresses[name] = ns, f"{subnet}.{i}"
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "dev", "lo", "up")
            _join(hosts, name, ns, hosts.addresses[name])
    except BaseException:
        hosts.teardown()
        raise
    return hosts


def _join(hosts: Hosts, port: str, ns: str | None, address: str) -> None:
    """A veth from switch port `port` to `eth0` of namespace `ns` (None: this process's own)."""
    inside = ["eth0", "netns", ns] if ns else [hosts.root_link]
    ip("link", "add", port, "netns", hosts.hub, "type", "veth", "peer", "name", *inside)
    ip("-n", hosts.hub, "link", "set", "dev", port, "master", "br0", "up")
    where = ["-n", ns] if ns else []
    dev = "eth0" if ns else hosts.root_link
    ip(*where, "addr", "add", f"{address}/24", "dev", dev)
    ip(*where, "link", "set", "dev", dev, "up")
