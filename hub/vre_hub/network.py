"""The Docker network of user and job containers, and the host firewall rules that go with it.

One place for these facts, used by ``vre up`` and the tests (through vre_hub.launcher),
``hub/jupyterhub_config.py`` (the address the hub API and the jobs service listen on) and the
Ansible role (``python3 -m vre_hub.network ensure ...`` run on the host).

The model (issue 12): user and job containers sit on their own bridge network (default
``vre-users``, ``VRE_NETWORK``) with container-to-container traffic off and nothing
published on host interfaces. The host side of the bridge (its gateway address) is where
the hub API and the jobs service listen, so containers reach those two; the proxy and every
other host service stay on 127.0.0.1, which a container cannot reach (it has its own
loopback). Host firewall rules, as defence in depth:

* ``INPUT -i <bridge> -j VRE-<bridge>``, first in INPUT; the chain accepts established
  traffic and new TCP connections to the gateway's hub API and jobs ports, and rejects
  everything else (host services listening on 0.0.0.0 are refused to containers);
* ``DOCKER-USER -i <bridge> -d 169.254.0.0/16 -j DROP``: no cloud metadata service or
  other link-local address through the host;
* IPv6: ``INPUT -i <bridge> -j DROP`` (the network is IPv4 only).

One network serves one hub: each ``vre up`` rewrites the rules with its own ports.
Rules live in the kernel: ``vre up`` (or the Ansible role) installs them again after a reboot.
Outbound traffic to the internet stays open for remote catalogue entries;
``VRE_NETWORK_INTERNAL=1`` makes the network ``internal`` (no route out at all).
``VRE_NETWORK=host`` puts containers in the host's network namespace, where every
container reaches every loopback service and every kernel of every user: unsafe, kept only
for a test that shows it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

DEFAULT_NETWORK = "vre-users"
HOST = "host"  # the unsafe host-network mode
LINK_LOCAL = "169.254.0.0/16"
#: Docker driver options of the network: containers cannot reach each other.
OPTIONS = {"com.docker.network.bridge.enable_icc": "false"}
LABEL = "org.dataterra.vre.network"
_TRUE = {"1", "true", "yes", "on"}


class NetworkError(RuntimeError):
    """The network cannot be used as it is; the message says what to do."""


class FirewallError(RuntimeError):
    """The host firewall rules could not be installed; the message says why and what it means."""


def network_name(env=os.environ) -> str:
    """``VRE_NETWORK``, else the default network."""
    return env.get("VRE_NETWORK") or DEFAULT_NETWORK


def internal_wanted(env=os.environ) -> bool:
    """``VRE_NETWORK_INTERNAL``: no outbound traffic at all from containers."""
    return env.get("VRE_NETWORK_INTERNAL", "").lower() in _TRUE


@dataclass(frozen=True)
class UserNetwork:
    """A bridge network as Docker reports it."""

    name: str
    gateway: str  # the host's address on the bridge
    subnet: str
    bridge: str  # the host's interface
    internal: bool
    icc: bool

    @property
    def chain(self) -> str:
        return f"VRE-{self.bridge}"

    @classmethod
    def from_inspect(cls, attrs: dict) -> "UserNetwork":
        options = attrs.get("Options") or {}
        ipam = [c for c in (attrs.get("IPAM") or {}).get("Config") or [] if ":" not in c.get("Subnet", ":")]
        if attrs.get("Driver") != "bridge" or not ipam or not ipam[0].get("Gateway"):
            raise NetworkError(
                f"Docker network {attrs.get('Name')} is not an IPv4 bridge network with a gateway; "
                "remove it or choose another VRE_NETWORK"
            )
        return cls(
            name=attrs["Name"],
            gateway=ipam[0]["Gateway"],
            subnet=ipam[0]["Subnet"],
            bridge=options.get("com.docker.network.bridge.name") or f"br-{attrs['Id'][:12]}",
            internal=bool(attrs.get("Internal")),
            icc=options.get("com.docker.network.bridge.enable_icc", "true") != "false",
        )


def _client(client=None):
    if client is not None:
        return client
    import docker  # the Docker SDK (DockerSpawner's dependency)

    return docker.from_env(timeout=60)


def inspect(name: str, client=None) -> UserNetwork | None:
    """The network called ``name``, None if absent."""
    import docker.errors

    try:
        return UserNetwork.from_inspect(_client(client).networks.get(name).attrs)
    except docker.errors.NotFound:
        return None


def hub_address(name: str, client=None) -> str:
    """Where the hub API and the jobs service listen: the gateway of ``name`` (127.0.0.1 in host mode)."""
    if name == HOST:
        return "127.0.0.1"
    network = inspect(name, client)
    if network is None:
        raise NetworkError(f"Docker network {name} does not exist; `vre up` creates it")
    return network.gateway


def ensure(name: str, internal: bool = False, client=None) -> tuple[UserNetwork, bool]:
    """The network ``name``, created if absent; (network, created). Refuses one with ICC on."""
    network = inspect(name, client)
    created = network is None
    if created:
        _client(client).networks.create(
            name, driver="bridge", options=OPTIONS, internal=internal, labels={LABEL: "users"}
        )
        network = inspect(name, client)
    if network.icc:
        raise NetworkError(
            f"Docker network {name} lets containers reach each other (enable_icc is not false); "
            f"remove it (`docker network rm {name}`) or choose another VRE_NETWORK"
        )
    if network.internal != internal:
        raise NetworkError(
            f"Docker network {name} is {'' if network.internal else 'not '}internal but VRE_NETWORK_INTERNAL "
            f"asks otherwise; remove it (`docker network rm {name}`) and run again"
        )
    return network, created


def remove(name: str, client=None) -> None:
    """Remove the network and its firewall rules, if any (its containers must be gone)."""
    import docker.errors

    try:
        found = _client(client).networks.get(name)
    except docker.errors.NotFound:
        return
    try:
        network = UserNetwork.from_inspect(found.attrs)
    except NetworkError:  # not a users' bridge (e.g. an overlay): no rules of ours
        network = None
    if network and os.geteuid() == 0 and shutil.which("iptables"):
        remove_firewall(network)
    found.remove()


# -- host firewall ----------------------------------------------------------------------------


def firewall_rules(network: UserNetwork, ports) -> dict[str, list[str]]:
    """The iptables rules of ``network`` (``iptables -S`` syntax), by chain."""
    accept = [
        f"-A {network.chain} -d {network.gateway}/32 -p tcp -m tcp --dport {port} -j ACCEPT"
        for port in sorted(set(int(p) for p in ports))
    ]
    return {
        network.chain: [
            f"-A {network.chain} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            *accept,
            f"-A {network.chain} -j REJECT --reject-with icmp-port-unreachable",
        ],
        "INPUT": [f"-A INPUT -i {network.bridge} -j {network.chain}"],
        "DOCKER-USER": [f"-A DOCKER-USER -d {LINK_LOCAL} -i {network.bridge} -j DROP"],
    }


def _iptables(*args: str, binary: str = "iptables", input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "-w", *args], capture_output=True, text=True, input=input)


def _has(rule: str, binary: str = "iptables") -> bool:
    return _iptables("-C", *rule.split()[1:], binary=binary).returncode == 0


def install_firewall(network: UserNetwork, ports) -> bool:
    """Install (or refresh) the rules of ``network`` atomically; True if anything changed.

    Raises FirewallError when it cannot (not root, no iptables, no DOCKER-USER chain).
    """
    if os.geteuid() != 0:
        raise FirewallError(
            f"not root: no host firewall rules for {network.name}; containers can reach host services "
            f"listening on 0.0.0.0 through {network.gateway}; run `vre up` as root to install them"
        )
    if not shutil.which("iptables") or not shutil.which("iptables-restore"):
        raise FirewallError(f"iptables is missing: no host firewall rules for {network.name} (apt-get install iptables)")
    if _iptables("-S", "DOCKER-USER").returncode != 0:
        raise FirewallError("the DOCKER-USER chain is missing (is Docker's iptables integration off?)")
    rules = firewall_rules(network, ports)
    current = _iptables("-S", network.chain)
    wanted = [f"-N {network.chain}", *rules[network.chain]]
    changed = current.returncode != 0 or current.stdout.split("\n")[:-1] != wanted
    # One iptables-restore: declaring the chain flushes it, all rules change at once.
    lines = ["*filter", f":{network.chain} - [0:0]", *rules[network.chain]]
    for chain in ("INPUT", "DOCKER-USER"):
        for rule in rules[chain]:
            if not _has(rule):
                lines.append(rule.replace("-A", "-I", 1).replace(chain, f"{chain} 1", 1))
                changed = True
    result = _iptables("--noflush", binary="iptables-restore", input="\n".join([*lines, "COMMIT", ""]))
    if result.returncode != 0:
        raise FirewallError(f"iptables-restore failed for {network.name}: {result.stderr.strip()[-300:]}")
    drop6 = f"-A INPUT -i {network.bridge} -j DROP"
    if shutil.which("ip6tables") and not _has(drop6, "ip6tables"):
        _iptables("-I", "INPUT", "1", *drop6.split()[2:], binary="ip6tables")
        changed = True
    return changed


def remove_firewall(network: UserNetwork) -> None:
    """Remove the rules of ``network`` (those present)."""
    rules = firewall_rules(network, ())
    for rule in rules["INPUT"] + rules["DOCKER-USER"]:
        while _has(rule):
            _iptables("-D", *rule.split()[1:])
    if _iptables("-S", network.chain).returncode == 0:
        _iptables("-F", network.chain)
        _iptables("-X", network.chain)
    drop6 = f"-A INPUT -i {network.bridge} -j DROP"
    while shutil.which("ip6tables") and _has(drop6, "ip6tables"):
        _iptables("-D", *drop6.split()[1:], binary="ip6tables")


def setup(name: str, ports, internal: bool = False, log=print, client=None) -> UserNetwork:
    """The network and its firewall rules, as ``vre up`` and Ansible make them.

    Says what it did; when the rules cannot be installed it says so (and why) and goes on:
    the network alone already keeps containers from each other and from host loopback.
    """
    network, created = ensure(name, internal=internal, client=client)
    log(
        f"{'created' if created else 'using'} Docker network {name} ({network.subnet}, bridge {network.bridge}, "
        f"gateway {network.gateway}, no container-to-container traffic"
        f"{', no outbound traffic' if network.internal else ''})"
    )
    try:
        changed = install_firewall(network, ports)
        ports_text = ", ".join(str(p) for p in sorted(set(int(p) for p in ports)))
        log(
            f"host firewall for {network.bridge}: only {network.gateway} ports {ports_text} open to containers, "
            f"{LINK_LOCAL} dropped ({'installed' if changed else 'already in place'})"
        )
    except FirewallError as error:
        log(f"WARNING: {error}")
    return network


def main(argv=None) -> int:
    """``python3 -m vre_hub.network ensure|remove NAME ...`` (Ansible runs it on the host)."""
    parser = argparse.ArgumentParser(prog="python3 -m vre_hub.network", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("ensure", help="create the network and install its firewall rules")
    up.add_argument("name")
    up.add_argument("--ports", required=True, help="comma-separated TCP ports of the gateway open to containers")
    up.add_argument("--internal", action="store_true", help="no outbound traffic from containers")
    down = sub.add_parser("remove", help="remove the firewall rules and the network")
    down.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "remove":
            remove(args.name)
            print(f"removed {args.name}")
            return 0
        network, created = ensure(args.name, internal=args.internal)
        changed = install_firewall(network, args.ports.split(","))
    except (NetworkError, FirewallError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{'changed' if created or changed else 'unchanged'}: {network.name} gateway {network.gateway}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
