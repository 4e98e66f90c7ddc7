"""A small network of "hosts" made of Linux network namespaces, for partition tests.

Each host is a namespace with one veth interface (``eth0``, 10.77.0.x/24) plugged into a
bridge that lives in a namespace of its own (the "switch"), so nothing is added to the
machine's own namespace and several runs (other agents, CI) never see each other: every
name carries this process's ID. A link between two hosts is cut by dropping, in each
host's INPUT chain, what comes from the other: packets vanish without a reset or an ICMP
error, and both sides' sends still succeed, which is what a partition looks like.

`NetLab.enter(host)` moves the calling thread (an asyncio test runs in one) into a host's
namespace: sockets it opens from then on, redials included, belong to that host.
Processes are started with ``ip netns exec``. `close()` kills what was started, then
deletes every namespace; `sweep_stale()` removes what a crashed earlier run left behind.

Needs root and the ``ip`` and ``iptables`` commands; `lab_unavailable()` says why not.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["NetLab", "lab_unavailable", "sweep_stale"]

PREFIX = "fpt"
"""Namespace names: ``fpt-<pid>-<host>``."""
SUBNET = "10.77.0"
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=30)


def lab_unavailable() -> str | None:
    """Why namespaces cannot be built here (None: they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"the {tool!r} command is missing (iproute2 / iptables)"
    probe = f"{PREFIX}-{os.getpid()}-probe"
    made = _run("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    try:
        rule = _run(
            "ip", "netns", "exec", probe, "iptables", "-A", "INPUT", "-s", "10.0.0.1",
            "-j", "DROP", check=False,
        )  # fmt: skip
        if rule.returncode != 0:
            return f"iptables does not work in a namespace: {rule.stderr.strip()}"
    finally:
        _run("ip", "netns", "del", probe, check=False)
    return None


def sweep_stale() -> None:
    """Delete the namespaces of runs whose process is gone (killing what still runs in
    them: only this tier starts processes there)."""
    listed = _run("ip", "netns", "list", check=False).stdout
    for name in re.findall(rf"^({PREFIX}-(\d+)-\S+)", listed, re.M):
        ns, pid = name[0], int(name[1])
        if Path(f"/proc/{pid}").exists():
            continue
        for leftover in _run("ip", "netns", "pids", ns, check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(leftover), signal.SIGKILL)
        _run("ip", "netns", "del", ns, check=False)


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({path}): {os.strerror(errno)}")
    finally:
        os.close(fd)


class NetLab:
    """Hosts on one switch; `hosts` maps a short host name to its last address octet."""

    def __init__(self, hosts: dict[str, int]) -> None:
        self.tag = f"{PREFIX}-{os.getpid()}"
        self.hosts = dict(hosts)
        self.switch = f"{self.tag}-sw"
        self._made: list[str] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        self._cuts: set[tuple[str, str]] = set()

    def ns(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def ip(self, host: str) -> str:
        return f"{SUBNET}.{self.hosts[host]}"

    # -- building and tearing down ----------------------------------------------------------

    def create(self) -> None:
        sweep_stale()
        self._netns_add(self.switch)
        _run("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", self.switch, "link", "set", "br0", "up")
        for index, host in enumerate(self.hosts):
            ns = self.ns(host)
            self._netns_add(ns)
            port = f"p{index}"
            _run(
                "ip", "-n", self.switch, "link", "add", port, "type", "veth",
                "peer", "name", "eth0", "netns", ns,
            )  # fmt: skip
            _run("ip", "-n", self.switch, "link", "set", port, "master", "br0", "up")
            _run("ip", "-n", ns, "addr", "add", f"{self.ip(host)}/24", "dev", "eth0")
            _run("ip", "-n", ns, "link", "set", "eth0", "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")

    def _netns_add(self, ns: str) -> None:
        _run("ip", "netns", "add", ns)
        self._made.append(ns)

    def close(self) -> None:
        """Kill every process started here, then delete every namespace (also after a
        failure halfway through `create`)."""
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGCONT)  # a stopped process dies only then
                    proc.kill()
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        for ns in reversed(self._made):
            _run("ip", "netns", "del", ns, check=False)
        self._made.clear()

    def __enter__(self) -> NetLab:
        try:
            self.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- partitions ---------------------------------------------------------------------------

    def cut(self, a: str, b: str) -> None:
        """Drop everything between hosts `a` and `b`, both ways, silently."""
        for here, there in ((a, b), (b, a)):
            _run(
                "ip", "netns", "exec", self.ns(here), "iptables", "-I", "INPUT",
                "-s", self.ip(there), "-j", "DROP",
            )  # fmt: skip
        self._cuts.add((a, b))

    def heal(self, a: str, b: str) -> None:
        for here, there in ((a, b), (b, a)):
            _run(
                "ip", "netns", "exec", self.ns(here), "iptables", "-D", "INPUT",
                "-s", self.ip(there), "-j", "DROP",
            )  # fmt: skip
        self._cuts.discard((a, b))

    # -- processes and the calling thread ---------------------------------------------------

    def spawn(
        self, host: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `argv` in `host`'s namespace, output to `log` (``ip netns exec`` execs it,
        so the process ID is the command's own: signals reach it directly)."""
        with log.open("ab") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(host), *argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        self._procs.append(proc)
        return proc

    @contextlib.contextmanager
    def enter(self, host: str) -> Iterator[None]:
        """Run the calling thread in `host`'s namespace until the block ends."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(f"/var/run/netns/{self.ns(host)}")
            try:
                yield
            finally:
                if _libc.setns(home, _CLONE_NEWNET) != 0:  # pragma: no cover
                    raise OSError(ctypes.get_errno(), "cannot return to the home namespace")
        finally:
            os.close(home)
