"""A one-node Kubernetes cluster with real pods, for the e2e tier, from Debian parts only.

kind cannot run here (no privileged containers: the sandbox lacks CAP_SYS_RESOURCE) and no
image registry can be reached, so the node is assembled from what Debian ships and what
``scripts/k8s/build-control-plane.sh --node`` builds from Debian's kubernetes source:

* the control plane of the operator tiers (``support.kube_control_plane.ControlPlane``:
  etcd, kube-apiserver, kube-controller-manager), listening on the host end of the node's
  link instead of loopback, plus kube-scheduler;
* Debian's containerd (``restrict_oom_score_adj``: a container may not lower its OOM score
  without CAP_SYS_RESOURCE) with runc and Debian's CNI plugins (bridge, host-local,
  loopback), kubelet and kube-proxy (iptables mode);
* ``support.cluster_dns`` as the cluster DNS (production clusters bring CoreDNS).

Isolation, so other test tiers and agents on the machine are not disturbed and the machine
is left as found: containerd, kubelet, kube-proxy and every pod run in a **private mount and
network namespace** held by one ``unshare ... sleep`` process. kube-proxy's iptables rules, the
CNI bridge and the pods' veths, routes and sysctls (``net.*`` are per namespace), the
containers' overlay mounts, kubelet's volume mounts and containerd's state (a tmpfs over
``/run`` inside the namespace; ``/var/log`` and ``/var/lib/cni`` bind-mounted from the work
directory) all live and die with that namespace. The host sees one veth pair
(``fe2e-host`` 10.231.255.1/30 <-> the node's 10.231.255.2) and two routes through it (pods
10.231.0.0/24, Services 10.231.128.0/24), which vanish with the namespace; the kubelet's
cgroups are under ``/frontier-e2e`` in each hierarchy and removed at the end. kubelet is built
so that it never rewrites kernel tunables (see the build script). A machine-wide ``flock``
makes concurrent runs wait for each other (two kube-proxies cannot share a node), and a run
that finds the namespace of a crashed run kills what is left in it first.

From the host the tests reach: the API server at ``https://10.231.255.1:<port>``, pod IPs and
ClusterIPs (routed), and NodePorts at ``10.231.255.2:<nodePort>`` (kube-proxy only serves node
ports on that address: nothing on the host's other addresses is intercepted).

No pytest in here: ``tests/e2e/conftest.py`` wraps it.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

from .kube_control_plane import (
    BUILD_SCRIPT,
    CONTROLLERS,
    MARKER_NAME,
    ControlPlane,
    ControlPlaneError,
    StaticUser,
    _reason_from_log,
    cache_dir,
    free_ports,
    wait_for,
)

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
NODE_BINARIES: Final = ("kubelet", "kube-proxy", "kube-scheduler", "pause")

NODE_NAME: Final = "frontier-e2e"
HOST_IF: Final = "fe2e-host"
NODE_IF: Final = "fe2e-node"
BRIDGE: Final = "fe2e0"
LINK_CIDR: Final = "10.231.255.0/30"
HOST_IP: Final = "10.231.255.1"
NODE_IP: Final = "10.231.255.2"
POD_CIDR: Final = "10.231.0.0/24"
SERVICE_CIDR: Final = "10.231.128.0/24"
#: Everything above lies in here; a host route or address inside it means a clash.
RESERVED: Final = ipaddress.IPv4Network("10.231.0.0/16")
CLUSTER_DOMAIN: Final = "cluster.local"
CGROUP_ROOT: Final = "frontier-e2e"
CGROUP_MOUNTS: Final = Path("/sys/fs/cgroup")
LOCK_PATH: Final = Path("/run/lock/frontier-e2e-cluster.lock")
STATE_PATH: Final = Path("/run/frontier-e2e-cluster.json")
#: The image kubelet/containerd use for pod sandboxes (imported, never pulled).
PAUSE_IMAGE: Final = "frontier-e2e.local/pause:3.4"
CNI_DIR: Final = Path("/usr/lib/cni")
CNI_PLUGINS: Final = ("bridge", "host-local", "loopback")
#: Controllers beyond the operator tiers': Jobs (helm hooks), garbage collection of terminated
#: pods, and node lifecycle (the kubelet registers the node tainted not-ready; this lifts it).
NODE_CONTROLLERS: Final = (*CONTROLLERS, "job", "podgc", "nodelifecycle")
TOOLS: Final = (
    "containerd",
    "containerd-shim-runc-v2",
    "runc",
    "ctr",
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip",
    "unshare",
    "nsenter",
    "mount",
)


class ClusterError(RuntimeError):
    """The cluster could not be started (or cleaned up); the message says why."""


# --------------------------------------------------------------------------------------------
# can this machine run it, and the node binaries


def availability() -> str | None:
    """``None`` when this machine is one that must run the tier (Linux, root, containerd);
    else why the tier skips. Whatever else is missing there is a failure, reported by
    :func:`missing_tools` and :meth:`LocalCluster.start`."""
    if not sys.platform.startswith("linux"):
        return f"needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "needs root (network namespaces, containerd, iptables)"
    if shutil.which("containerd") is None:
        return (
            "containerd is not installed (as root, ./dev installs Debian's containerd, runc, "
            "containernetworking-plugins, iptables, docker.io and debootstrap)"
        )
    return None


def missing_tools() -> list[str]:
    """Commands and CNI plugins the node needs that are not there."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    missing += [f"{CNI_DIR}/{p}" for p in CNI_PLUGINS if not os.access(CNI_DIR / p, os.X_OK)]
    return missing


def _node_dir() -> Path | str:
    directory = cache_dir()
    return directory if isinstance(directory, str) else directory / "node"


def find_node_built() -> Path | None:
    directory = _node_dir()
    if isinstance(directory, str):
        return None
    bin_dir = directory / "bin"
    complete = all(os.access(bin_dir / b, os.X_OK) for b in NODE_BINARIES)
    return bin_dir if complete and (directory / MARKER_NAME).is_file() else None


@cache
def ensure_node_built(timeout: float = 3600.0) -> Path | str:
    """The bin dir of kubelet, kube-proxy, kube-scheduler and pause (building them, and the
    control plane if missing, with ``build-control-plane.sh --node``), or why not."""
    found = find_node_built()
    if found is not None:
        return found
    directory = _node_dir()
    if isinstance(directory, str):
        return directory
    log_path = directory.parent.parent / f"{directory.parent.name}-node-build.log"
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as log_file:
            proc = subprocess.run(
                ["bash", str(BUILD_SCRIPT), "--node"],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{BUILD_SCRIPT.name} --node failed: {exc} (log: {log_path})"
    if proc.returncode != 0:
        return _reason_from_log(log_path.read_text(errors="replace"), proc.returncode, log_path)
    return find_node_built() or f"the node build left {directory} incomplete (log: {log_path})"


def e2e_cache() -> Path:
    """Where the tier keeps what outlives a run (docker's data root, containerd's images,
    the base image's rootfs): beside the Kubernetes build cache."""
    directory = cache_dir()
    root = Path("/var/cache/frontier-py/k8s") if isinstance(directory, str) else directory.parent
    return Path(os.environ.get("FRONTIER_E2E_CACHE", str(root.parent / "e2e")))


# --------------------------------------------------------------------------------------------
# helpers


def run(argv: Sequence[str], *, timeout: float = 120, input: str | None = None) -> str:
    """Run a command; ``ClusterError`` with its output when it fails."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, input=input, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ClusterError(f"{' '.join(argv)}: {exc}") from exc
    if proc.returncode != 0:
        raise ClusterError(
            f"{' '.join(argv)} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}"
        )
    return proc.stdout


def _ns_inode(pid: int | str, kind: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def processes_in_mount_ns(inode: int) -> list[int]:
    """Every process whose mount namespace is ``inode``."""
    return [
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit() and _ns_inode(entry, "mnt") == inode
    ]


def kill_namespace(inode: int, *, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL, every process in a mount namespace; wait until none is left.

    Only ever a namespace this module made: it refuses (ClusterError, nothing signalled) the
    mount namespace of this process, of its parent or of PID 1 (killing those would take the
    whole machine down), and an inode of 0."""
    shared = {_ns_inode(pid, "mnt") for pid in ("self", os.getppid(), 1)}
    if not inode or inode in shared:
        raise ClusterError(f"refusing to kill the mount namespace {inode}: it is not the node's")
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        pids = processes_in_mount_ns(inode)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while processes_in_mount_ns(inode) and time.monotonic() < deadline:
            time.sleep(0.1)
    left = processes_in_mount_ns(inode)
    if left:
        raise ClusterError(f"processes {left} survived SIGKILL in the node's namespace")


def cgroup_pids(name: str = CGROUP_ROOT) -> set[int]:
    """The processes in the cgroup tree ``/<name>``, in any hierarchy."""
    pids: set[int] = set()
    for hierarchy in sorted(CGROUP_MOUNTS.iterdir()) if CGROUP_MOUNTS.is_dir() else ():
        for dirpath, _dirs, files in os.walk(hierarchy / name):
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError):
                    pids.update(int(p) for p in Path(dirpath, "cgroup.procs").read_text().split())
    return pids


def kill_cgroup_tree(name: str = CGROUP_ROOT, timeout: float = 15.0) -> list[int]:
    """SIGKILL every process in the cgroup tree ``/<name>`` (the pods' containers: each has
    its own mount namespace, so only their cgroups say they are ours); wait until it is empty.
    The pids still there after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        pids = cgroup_pids(name)
        if not pids or time.monotonic() > deadline:
            return sorted(pids)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def remove_cgroups(name: str = CGROUP_ROOT) -> list[str]:
    """rmdir the cgroup tree ``/<name>`` in every v1 hierarchy (deepest first); the paths
    that could not be removed (still busy)."""
    left = []
    for hierarchy in sorted(CGROUP_MOUNTS.iterdir()) if CGROUP_MOUNTS.is_dir() else ():
        top = hierarchy / name
        if not top.is_dir():
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                left.append(dirpath)
    return left


def _make_cgroups(name: str = CGROUP_ROOT) -> None:
    """The kubelet's ``--cgroup-root`` must exist in every hierarchy; cpuset needs its CPUs
    and memory nodes copied from the parent before anything can join it."""
    for hierarchy in sorted(CGROUP_MOUNTS.iterdir()):
        if not hierarchy.is_dir() or hierarchy.name == "unified":
            continue
        top = hierarchy / name
        top.mkdir(exist_ok=True)
        if hierarchy.name == "cpuset":
            for knob in ("cpuset.cpus", "cpuset.mems"):
                if not (top / knob).read_text().strip():
                    (top / knob).write_text((hierarchy / knob).read_text())


@contextlib.contextmanager
def exclusive_lock(path: Path, timeout: float, what: str) -> Iterator[None]:
    """Hold `path`'s flock; another run on this machine waits for it, up to `timeout` s."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    print(f"e2e: waiting for another run's {what} ({path})", file=sys.stderr)
                    announced = True
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"another run's {what} held {path} for more than {timeout:.0f}s"
                    ) from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def machine_lock(timeout: float) -> contextlib.AbstractContextManager[None]:
    """One node on this machine at a time (another run waits, then goes on)."""
    return exclusive_lock(LOCK_PATH, timeout, "node")


def _host_clashes() -> list[str]:
    """Host addresses or routes inside the reserved range (or our link left over)."""
    out = []
    for line in run(["ip", "-4", "-o", "addr", "show"]).splitlines():
        words = line.split()
        if "inet" in words:
            net = ipaddress.IPv4Interface(words[words.index("inet") + 1]).network
            if net.overlaps(RESERVED):
                out.append(f"address {words[words.index('inet') + 1]} on {words[1]}")
    for line in run(["ip", "-4", "route", "show"]).splitlines():
        dest = line.split()[0]
        if dest != "default":
            with contextlib.suppress(ValueError):
                if ipaddress.IPv4Network(dest, strict=False).overlaps(RESERVED):
                    out.append(f"route {line.strip()}")
    return out


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def sweep_leftovers() -> list[str]:
    """Clean up after a run that died without its teardown; what was done."""
    done = []
    try:
        state = json.loads(STATE_PATH.read_text())
    except (OSError, ValueError):
        state = None
    if state:
        inode, workdir = int(state.get("mnt") or 0), str(state.get("workdir") or "")
        # Only if that namespace is still ours: a namespace's inode number can be reused once
        # it is gone, so a process in it must name the run's containerd socket (containerd
        # and its shims do); kill_namespace refuses the host's namespace whatever this says.
        socket = f"{workdir}/containerd.sock"
        ours = [p for p in processes_in_mount_ns(inode) if p != os.getpid()]
        if inode and workdir and any(socket in _cmdline(p) for p in ours):
            try:
                kill_namespace(inode)
            except ClusterError as exc:  # a state that names the host's namespace is bogus
                done.append(f"ignored {STATE_PATH}: {exc}")
            else:
                done.append(f"killed the processes of a previous run's node namespace ({workdir})")
        STATE_PATH.unlink(missing_ok=True)
    if cgroup_pids():
        left = kill_cgroup_tree()
        if left:
            raise ClusterError(f"containers of a previous run survive SIGKILL: {left[:5]}")
        done.append(f"killed the containers of a previous run (cgroup /{CGROUP_ROOT})")
    busy = remove_cgroups()
    if busy:
        raise ClusterError(f"cgroups of a previous run are still in use: {busy[:3]}")
    return done


# --------------------------------------------------------------------------------------------
# the cluster


@dataclass
class LocalCluster:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler on the host, containerd
    + kubelet + kube-proxy in the node's namespaces, and the cluster DNS. ``start()`` /
    ``stop()``; ``load_images(tar)`` before pods need them. See the module docstring."""

    bin_dir: Path
    node_bin_dir: Path
    containerd_root: Path
    lock_timeout: float = 1800.0
    startup_timeout: float = 180.0

    plane: ControlPlane = field(init=False)
    workdir: Path = field(init=False)
    holder: subprocess.Popen[bytes] | None = field(init=False, default=None)
    mnt_inode: int | None = field(init=False, default=None)
    _lock: contextlib.ExitStack = field(init=False, default_factory=contextlib.ExitStack)
    _created: list[Path] = field(init=False, default_factory=list)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        missing = missing_tools()
        if missing:
            raise ClusterError(f"missing on this machine: {', '.join(missing)}")
        self._lock.enter_context(machine_lock(self.lock_timeout))
        try:
            for what in sweep_leftovers():
                print(f"e2e: {what}", file=sys.stderr)
            clashes = _host_clashes()
            if clashes:
                raise ClusterError(
                    f"the node's addresses ({RESERVED}) clash with the host's: {'; '.join(clashes)}"
                )
            self.workdir = Path(tempfile.mkdtemp(prefix="fe2e-"))
            self._start_namespace()
            self._start_control_plane()
            self._start_node()
        except BaseException:
            logs = self.log_tails() if hasattr(self, "plane") else ""
            self.stop()
            if logs:
                print(logs, file=sys.stderr)
            raise

    def stop(self) -> None:
        """Stop everything and leave the machine as found (idempotent)."""
        errors: list[str] = []
        plane = getattr(self, "plane", None)
        if plane is not None and self.holder is not None and plane.server:
            with contextlib.suppress(Exception):
                self._drain_pods(timeout=60)
        keep = os.environ.get("FRONTIER_E2E_KEEP", "") not in ("", "0")
        if plane is not None:  # its logs stay with FRONTIER_E2E_KEEP (a failure's tails are
            plane.stop(keep_logs=keep)  # in the test report)
        if self.mnt_inode is not None:
            try:
                kill_namespace(self.mnt_inode)
            except ClusterError as exc:
                errors.append(str(exc))
        if self.holder is not None:
            with contextlib.suppress(ProcessLookupError):
                self.holder.kill()
            self.holder.wait(timeout=10)
            self.holder = None
        survivors = kill_cgroup_tree()
        if survivors:
            errors.append(f"processes {survivors[:5]} survived in /{CGROUP_ROOT}")
        busy = remove_cgroups()
        if busy:
            errors.append(f"cgroups left busy: {busy[:3]}")
        for path in reversed(self._created):
            with contextlib.suppress(OSError):
                path.rmdir()
        self._created.clear()
        STATE_PATH.unlink(missing_ok=True)
        self.mnt_inode = None
        workdir = getattr(self, "workdir", None)
        if workdir is not None and not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        self._lock.close()
        if errors:
            raise ClusterError("; ".join(errors))

    # --- namespaces and the link ------------------------------------------------------------

    def ns(self, *argv: str) -> list[str]:
        """``argv`` run inside the node's mount and network namespaces."""
        assert self.holder is not None
        return ["nsenter", f"--target={self.holder.pid}", "--mount", "--net", "--", *argv]

    def _start_namespace(self) -> None:
        from .kube_control_plane import _die_with_parent

        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--net", "--propagation", "private", "sleep", "infinity"],
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        ours = _ns_inode("self", "net")
        wait_for(
            lambda: _ns_inode(self.holder.pid, "net") not in (None, ours),  # type: ignore[union-attr]
            timeout=10,
            what="the node's namespaces",
        )
        self.mnt_inode = _ns_inode(self.holder.pid, "mnt")
        STATE_PATH.write_text(
            json.dumps(
                {"holder": self.holder.pid, "mnt": self.mnt_inode, "workdir": str(self.workdir)}
            )
        )
        for sub in ("varlog", "cni", "kubelet", "containerd-state", "netd"):
            (self.workdir / sub).mkdir()
        var_lib_cni = Path("/var/lib/cni")
        if not var_lib_cni.exists():  # a mount point for the namespace's own /var/lib/cni
            var_lib_cni.mkdir(parents=True)
            self._created.append(var_lib_cni)
        w = self.workdir
        run(
            self.ns(
                "sh",
                "-ec",
                f"""
                ip link set lo up
                mount -t tmpfs -o mode=0755 frontier-e2e-run /run
                mkdir -p /run/lock
                mount --bind {w}/varlog /var/log
                mount --bind {w}/cni /var/lib/cni
                """,
            )
        )
        run(["ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NODE_IF,
             "netns", str(self.holder.pid)])  # fmt: skip
        run(["ip", "addr", "add", f"{HOST_IP}/30", "dev", HOST_IF])
        run(["ip", "link", "set", HOST_IF, "up"])
        run(
            self.ns(
                "sh",
                "-ec",
                f"""
                ip addr add {NODE_IP}/30 dev {NODE_IF}
                ip link set {NODE_IF} up
                ip route add default via {HOST_IP}
                sysctl -qw net.ipv4.ip_forward=1
                """,
            )
        )
        for cidr in (POD_CIDR, SERVICE_CIDR):
            run(["ip", "route", "add", cidr, "via", NODE_IP, "dev", HOST_IF])

    # --- host side: control plane, scheduler, DNS --------------------------------------------

    def _start_control_plane(self) -> None:
        self.kubelet_user = StaticUser(
            f"system:node:{NODE_NAME}",
            os.urandom(16).hex(),
            ("system:nodes", "system:masters"),
        )
        self.proxy_user = StaticUser("system:kube-proxy", os.urandom(16).hex())
        self.scheduler_user = StaticUser("system:kube-scheduler", os.urandom(16).hex())
        self.plane = ControlPlane(
            bin_dir=self.bin_dir,
            address=HOST_IP,
            service_cluster_ip_range=SERVICE_CIDR,
            controllers=NODE_CONTROLLERS,
            extra_users=(self.kubelet_user, self.proxy_user, self.scheduler_user),
            # logs, exec and port-forward reach the kubelet at the node's IP (not its name)
            extra_apiserver_args=("--kubelet-preferred-address-types=InternalIP",),
            startup_timeout=self.startup_timeout,
        )
        try:
            self.plane.start()
        except ControlPlaneError as exc:
            raise ClusterError(f"the control plane did not start: {exc}") from exc
        p = self.plane
        (sched_port,) = free_ports(1)
        sched_config = self.workdir / "scheduler.kubeconfig"
        p.write_kubeconfig(sched_config, self.scheduler_user)
        p.spawn(
            "kube-scheduler",
            [
                str(self.node_bin_dir / "kube-scheduler"),
                f"--kubeconfig={sched_config}",
                f"--authentication-kubeconfig={sched_config}",
                f"--authorization-kubeconfig={sched_config}",
                "--leader-elect=false",
                "--address=127.0.0.1",
                f"--port={sched_port}",
                "--secure-port=0",
                "--v=1",
            ],
        )
        p.wait_http(
            "kube-scheduler", f"http://127.0.0.1:{sched_port}/healthz", ssl_ctx=None, token=None
        )
        token_file = self.workdir / "dns.token"
        token_file.write_text(p.admin.token)
        token_file.chmod(0o600)
        p.spawn(
            "cluster-dns",
            [
                sys.executable,
                str(Path(__file__).with_name("cluster_dns.py")),
                f"--listen={HOST_IP}:53",
                f"--server={p.server}",
                f"--token-file={token_file}",
                f"--ca-file={p.ca_file}",
                f"--domain={CLUSTER_DOMAIN}",
            ],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
        )

    # --- node side: containerd, kubelet, kube-proxy ----------------------------------------

    @property
    def containerd_socket(self) -> Path:
        return self.workdir / "containerd.sock"

    def ctr(self, *args: str, timeout: float = 600) -> str:
        return run(
            ["ctr", f"--address={self.containerd_socket}", "--namespace=k8s.io", *args],
            timeout=timeout,
        )

    def _start_node(self) -> None:
        p, w = self.plane, self.workdir
        self.containerd_root.mkdir(parents=True, exist_ok=True)
        dirty = self.containerd_root / ".in-use"
        if dirty.exists():  # a run died with containers in it: start from nothing
            shutil.rmtree(self.containerd_root)
            self.containerd_root.mkdir(parents=True)
        dirty.write_text(str(os.getpid()))
        (w / "netd" / "10-frontier-e2e.conflist").write_text(json.dumps(self._cni_config()))
        (w / "containerd.toml").write_text(self._containerd_config())
        p.spawn("containerd", self.ns("containerd", f"--config={w / 'containerd.toml'}"))
        wait_for(
            lambda: self._quiet_ok(["ctr", f"--address={self.containerd_socket}", "version"]),
            timeout=60,
            what="containerd",
        )

        kubelet_config = w / "kubelet.kubeconfig"
        p.write_kubeconfig(kubelet_config, self.kubelet_user)
        (kubelet_port,) = free_ports(1)
        resolv = w / "resolv.conf"  # for dnsPolicy: Default pods (none here use it)
        resolv.write_text(f"nameserver {HOST_IP}\n")
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": NODE_IP,
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": kubelet_port,
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": False},
                "x509": {"clientCAFile": str(p.ca_file)},
            },
            "authorization": {"mode": "AlwaysAllow"},  # only clients of our CA get this far
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": f"/{CGROUP_ROOT}",
            "cgroupsPerQOS": True,
            "clusterDomain": CLUSTER_DOMAIN,
            "clusterDNS": [HOST_IP],
            "resolvConf": str(resolv),
            "failSwapOn": False,
            "makeIPTablesUtilChains": False,
            "oomScoreAdj": 0,
            "serializeImagePulls": False,
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
                "nodefs.inodesFree": "1%",
            },
            "syncFrequency": "10s",
            "fileCheckFrequency": "1h",
            "staticPodPath": "",
            "enforceNodeAllocatable": ["pods"],
        }
        (w / "kubelet.yaml").write_text(json.dumps(config, indent=2))
        _make_cgroups()
        p.spawn(
            "kubelet",
            self.ns(
                str(self.node_bin_dir / "kubelet"),
                f"--config={w / 'kubelet.yaml'}",
                f"--kubeconfig={kubelet_config}",
                f"--root-dir={w / 'kubelet'}",
                f"--cert-dir={w / 'kubelet' / 'pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                "--container-runtime=remote",
                f"--container-runtime-endpoint=unix://{self.containerd_socket}",
                f"--pod-infra-container-image={PAUSE_IMAGE}",
                "--v=1",
            ),
        )
        proxy_config = w / "kube-proxy.kubeconfig"
        p.write_kubeconfig(proxy_config, self.proxy_user)
        proxy_health, proxy_metrics = free_ports(2)
        p.spawn(
            "kube-proxy",
            self.ns(
                str(self.node_bin_dir / "kube-proxy"),
                f"--kubeconfig={proxy_config}",
                f"--hostname-override={NODE_NAME}",
                "--proxy-mode=iptables",
                f"--cluster-cidr={POD_CIDR}",
                f"--nodeport-addresses={NODE_IP}/32",
                f"--healthz-bind-address={NODE_IP}:{proxy_health}",
                f"--metrics-bind-address=127.0.0.1:{proxy_metrics}",
                # conntrack's global table belongs to the host: leave it alone
                "--conntrack-max-per-core=0",
                "--conntrack-min=0",
                "--conntrack-tcp-timeout-established=0",
                "--conntrack-tcp-timeout-close-wait=0",
                "--v=1",
            ),
        )
        p.wait_http(
            "kube-proxy", f"http://{NODE_IP}:{proxy_health}/healthz", ssl_ctx=None, token=None
        )
        self.wait_node_ready()

    def _quiet_ok(self, argv: list[str]) -> bool:
        self.plane.check_alive()
        return subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode == 0

    def _cni_config(self) -> dict[str, Any]:
        return {
            "cniVersion": "0.4.0",
            "name": "frontier-e2e",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,  # pods talk to the node and the host only
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.workdir / "cni" / "networks"),
                    },
                },
            ],
        }

    def _containerd_config(self) -> str:
        w = self.workdir
        return textwrap.dedent(
            f"""\
            version = 2
            root = "{self.containerd_root}"
            state = "/run/frontier-e2e/containerd"
            disabled_plugins = [
              "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
              "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
              "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp",
            ]
            [grpc]
              address = "{self.containerd_socket}"
            [plugins."io.containerd.grpc.v1.cri"]
              sandbox_image = "{PAUSE_IMAGE}"
              restrict_oom_score_adj = true
              disable_apparmor = true
              enable_selinux = false
              netns_mounts_under_state_dir = true
              disable_tcp_service = true
              stream_server_address = "127.0.0.1"
              stream_server_port = "0"
              max_container_log_line_size = 16384
              [plugins."io.containerd.grpc.v1.cri".containerd]
                snapshotter = "overlayfs"
                default_runtime_name = "runc"
                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                  runtime_type = "io.containerd.runc.v2"
                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                    SystemdCgroup = false
              [plugins."io.containerd.grpc.v1.cri".cni]
                bin_dir = "{CNI_DIR}"
                conf_dir = "{w / "netd"}"
                max_conf_num = 1
            """
        )

    # --- use ----------------------------------------------------------------------------------

    def wait_node_ready(self) -> None:
        from kubernetes import client

        with self.plane.api_client() as api:
            core = client.CoreV1Api(api)

            def ready() -> bool:
                self.plane.check_alive()
                node = core.read_node(NODE_NAME)
                return any(
                    c.type == "Ready" and c.status == "True" for c in node.status.conditions or ()
                ) and not [t for t in node.spec.taints or () if t.effect == "NoSchedule"]

            try:
                wait_for(
                    ready, timeout=self.startup_timeout, what=f"node {NODE_NAME} Ready, untainted"
                )
                wait_for(
                    lambda: core.read_namespaced_service_account("default", "default"),
                    timeout=60,
                    what="the default ServiceAccount",
                )
            except (TimeoutError, ControlPlaneError) as exc:
                raise ClusterError(f"{exc}\n{self.log_tails()}") from exc

    def load_images(self, archive: Path) -> None:
        """Import a ``docker save`` archive into containerd's k8s.io namespace."""
        self.ctr("images", "import", "--no-unpack=false", str(archive), timeout=900)

    def log_tails(self, lines: int = 40) -> str:
        return self.plane.log_tails(lines)

    def _drain_pods(self, timeout: float) -> None:
        """Delete every pod and wait until kubelet has removed their containers (so that
        containerd's root, kept between runs, holds images only)."""
        kubectl_like = self.plane.api_client()
        try:
            from kubernetes import client

            core = client.CoreV1Api(kubectl_like)
            # cordoned first: the pods controllers re-create stay Pending, never started
            core.patch_node(NODE_NAME, {"spec": {"unschedulable": True}})
            for pod in core.list_pod_for_all_namespaces().items:
                with contextlib.suppress(Exception):
                    core.delete_namespaced_pod(
                        pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0
                    )
        finally:
            kubectl_like.close()  # type: ignore[no-untyped-call]

        def empty() -> bool:
            return not self.ctr("containers", "list", "--quiet", timeout=30).split()

        wait_for(empty, timeout=timeout, what="kubelet to remove every container")
        (self.containerd_root / ".in-use").unlink(missing_ok=True)
