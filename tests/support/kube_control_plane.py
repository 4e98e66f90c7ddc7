"""A real Kubernetes control plane on loopback for the operator's tier-3 tests.

``ensure_built()`` finds (or builds, through ``scripts/k8s/build-control-plane.sh``) the
kube-apiserver, kube-controller-manager and etcd binaries; ``ControlPlane`` runs them:

* etcd on free loopback ports, its data in a temporary directory (tmpfs when available);
* kube-apiserver on a free loopback HTTPS port with a certificate signed by a throw-away CA,
  static token authentication, RBAC authorization (the admin token is in ``system:masters``),
  a generated service-account signing key;
* kube-controller-manager with the deployment, replicaset, garbage-collector, namespace and
  service-account controllers (no cloud, no node controllers, no scheduler, no kubelet:
  tests "play kubelet" by patching pod status).

It waits for ``/readyz`` and the controller-manager's ``/healthz``, writes a kubeconfig, and
stops everything (terminate, then kill). Failures raise ``ControlPlaneError`` carrying the
tail of every process's log. No pytest in here: ``conftest.py`` wraps it in a fixture.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "k8s" / "build-control-plane.sh"
BINARIES = ("kube-apiserver", "kube-controller-manager", "etcd")
MARKER_NAME = ".build-complete"  # written by the build script on success

#: Controllers the controller-manager runs: enough for Deployment -> ReplicaSet -> Pod, garbage
#: collection (ownerReferences), namespace deletion, the "default" service account that the
#: ServiceAccount admission plugin requires before a pod can be created, and the status of
#: PodDisruptionBudgets (which the Eviction API enforces).
CONTROLLERS = (
    "deployment",
    "replicaset",
    "garbagecollector",
    "namespace",
    "serviceaccount",
    "serviceaccount-token",
    "endpoint",
    "endpointslice",
    "disruption",
)
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


T = TypeVar("T")


class ControlPlaneError(RuntimeError):
    """The control plane did not start (or stop) as expected; the message has the log tails."""


# --------------------------------------------------------------------------------------------
# Finding / building the binaries
# --------------------------------------------------------------------------------------------


def _bin_dir_complete(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in BINARIES)


def cache_dir() -> Path | str:
    """The build script's version directory (holding ``bin/`` and the marker), or a reason."""
    if not BUILD_SCRIPT.is_file():
        return f"build script {BUILD_SCRIPT} is missing"
    if shutil.which("bash") is None:
        return "bash is missing"
    try:
        out = subprocess.run(
            ["bash", str(BUILD_SCRIPT), "--print-dir"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{BUILD_SCRIPT.name} --print-dir failed: {exc}"
    return Path(out)


def find_built() -> Path | None:
    """The bin dir of a finished build (or ``$FRONTIER_K8S_BIN``), without building anything."""
    override = os.environ.get("FRONTIER_K8S_BIN")
    if override:
        path = Path(override)
        return path if _bin_dir_complete(path) else None
    directory = cache_dir()
    if isinstance(directory, str):
        return None
    if (directory / MARKER_NAME).is_file() and _bin_dir_complete(directory / "bin"):
        return directory / "bin"
    return None


def _reason_from_log(text: str, returncode: int, log_path: Path) -> str:
    reasons = [
        line[len("REASON:") :].strip() for line in text.splitlines() if line.startswith("REASON:")
    ]
    if reasons:
        return "; ".join(reasons) + f" (log: {log_path})"
    tail = " | ".join(text.strip().splitlines()[-5:])
    return f"{BUILD_SCRIPT.name} exited with {returncode}: {tail} (log: {log_path})"


@cache
def ensure_built(timeout: float = 3600.0) -> Path | str:
    """Return the bin dir holding the control-plane binaries, building them when missing.

    Returns a human-readable reason (a ``str``) instead when they cannot be had here: no apt,
    no network to Debian, not writable cache, build failure, ... Set ``FRONTIER_K8S_BIN`` to use
    binaries built elsewhere, ``FRONTIER_K8S_NO_BUILD=1`` to never start a build. The result is
    cached for the life of the process (the build runs at most once per test session).
    """
    override = os.environ.get("FRONTIER_K8S_BIN")
    if override:
        path = Path(override)
        if _bin_dir_complete(path):
            return path
        return f"FRONTIER_K8S_BIN={override} does not hold {', '.join(BINARIES)}"
    found = find_built()
    if found is not None:
        return found
    directory = cache_dir()
    if isinstance(directory, str):
        return directory
    if os.environ.get("FRONTIER_K8S_NO_BUILD", "") not in ("", "0"):
        return f"no control-plane build in {directory} and FRONTIER_K8S_NO_BUILD is set"
    log_path = directory.parent / f"{directory.name}-build.log"
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        log_file: IO[str] = log_path.open("w")
    except OSError:
        log_path = Path(tempfile.gettempdir()) / f"frontier-k8s-build-{os.getpid()}.log"
        log_file = log_path.open("w")
    with log_file:
        try:
            proc = subprocess.run(
                ["bash", str(BUILD_SCRIPT)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"{BUILD_SCRIPT.name} did not finish within {timeout:.0f}s (log: {log_path})"
        except OSError as exc:
            return f"cannot run {BUILD_SCRIPT}: {exc}"
    text = log_path.read_text(errors="replace")
    if proc.returncode != 0:
        return _reason_from_log(text, proc.returncode, log_path)
    found = find_built()
    if found is None:
        return f"{BUILD_SCRIPT.name} succeeded but {directory} is incomplete (log: {log_path})"
    return found


# --------------------------------------------------------------------------------------------
# Certificates and keys
# --------------------------------------------------------------------------------------------


def _write_pki(
    directory: Path,
    *,
    address: str = "127.0.0.1",
    service_cluster_ip_range: str = SERVICE_CLUSTER_IP_RANGE,
) -> None:
    """Write ca.crt/.key, apiserver.crt/.key (loopback, ``address`` and in-cluster names),
    kubelet-client.crt/.key (the apiserver's client certificate towards kubelets, in
    ``system:masters``) and sa.key/.pub."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    not_before = now - datetime.timedelta(hours=1)
    not_after = now + datetime.timedelta(days=7)

    def pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "frontier-test-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    service_ip = next(ipaddress.IPv4Network(service_cluster_ip_range).hosts())
    ips = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address(address), service_ip}
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes"),
                    x509.DNSName("kubernetes.default"),
                    x509.DNSName("kubernetes.default.svc"),
                    x509.DNSName("kubernetes.default.svc.cluster.local"),
                    *(x509.IPAddress(ip) for ip in sorted(ips)),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver-kubelet-client"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(client_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {
        "kubelet-client.crt": client_cert.public_bytes(serialization.Encoding.PEM),
        "kubelet-client.key": pem_key(client_key),
        "ca.crt": ca_cert.public_bytes(serialization.Encoding.PEM),
        "ca.key": pem_key(ca_key),
        "apiserver.crt": server_cert.public_bytes(serialization.Encoding.PEM),
        "apiserver.key": pem_key(server_key),
        "sa.key": pem_key(sa_key),
        "sa.pub": sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }
    for name, data in files.items():
        path = directory / name
        path.write_bytes(data)
        path.chmod(0o600)


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free TCP ports on ``host`` (held together, so no duplicates)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM the child when the process that started it dies (e.g. pytest killed)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


@dataclass
class _Proc:
    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class StaticUser:
    """A line of the apiserver's static token file."""

    name: str
    token: str
    groups: tuple[str, ...] = ()
    uid: str = ""


@dataclass
class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) on loopback; see the module docstring.

    Use as a context manager, or call ``start()`` / ``stop()``. ``kubeconfig`` (admin token)
    is written on start; ``api_client()`` gives a ``kubernetes`` client for it.
    """

    bin_dir: Path
    controller_manager: bool = True
    controllers: Sequence[str] = CONTROLLERS
    extra_users: Sequence[StaticUser] = ()
    startup_timeout: float = 120.0
    stop_timeout: float = 15.0
    keep_workdir: bool = False
    extra_apiserver_args: Sequence[str] = ()
    extra_controller_manager_args: Sequence[str] = ()
    #: Where the apiserver listens and what it advertises (the ``kubernetes`` Service's
    #: endpoint): loopback for the tiers without pods; an address pods can reach for a node.
    address: str = "127.0.0.1"
    service_cluster_ip_range: str = SERVICE_CLUSTER_IP_RANGE
    admin: StaticUser = field(
        default_factory=lambda: StaticUser(
            name="frontier-admin",
            token=os.urandom(16).hex(),
            groups=("system:masters",),
            uid="frontier-admin",
        )
    )

    workdir: Path = field(init=False)
    etcd_url: str = field(init=False, default="")
    server: str = field(init=False, default="")
    kubeconfig: Path = field(init=False)
    ca_file: Path = field(init=False)
    controller_manager_url: str = field(init=False, default="")
    _procs: list[_Proc] = field(init=False, default_factory=list)
    _etcd_dir: Path | None = field(init=False, default=None)

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start etcd, the apiserver and the controller-manager; wait until each is healthy."""
        if self._procs:
            raise ControlPlaneError("already started")
        missing = [b for b in BINARIES if not os.access(self.bin_dir / b, os.X_OK)]
        if missing:
            raise ControlPlaneError(f"{self.bin_dir} lacks {', '.join(missing)}")
        self.workdir = Path(tempfile.mkdtemp(prefix="frontier-k8s-"))
        try:
            self._start()
        except BaseException as exc:
            logs = self.log_tails()
            self.stop(keep_logs=True)  # the work dir (logs, certs) stays for a post-mortem
            if isinstance(exc, ControlPlaneError):
                raise ControlPlaneError(f"{exc}\n{logs}") from None
            raise

    def _start(self) -> None:
        pki = self.workdir / "pki"
        pki.mkdir()
        _write_pki(
            pki, address=self.address, service_cluster_ip_range=self.service_cluster_ip_range
        )
        self.ca_file = pki / "ca.crt"
        etcd_client, etcd_peer, cm_port = free_ports(3)
        (apiserver_port,) = free_ports(1, self.address)

        # etcd: fsync on tmpfs is free, which keeps the apiserver fast on a small machine.
        shm = Path("/dev/shm")
        if shm.is_dir() and os.access(shm, os.W_OK):
            self._etcd_dir = Path(tempfile.mkdtemp(prefix="frontier-etcd-", dir=shm))
        else:
            self._etcd_dir = self.workdir / "etcd"
        self.etcd_url = f"http://127.0.0.1:{etcd_client}"
        peer_url = f"http://127.0.0.1:{etcd_peer}"
        self.spawn(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                "--name=default",
                f"--data-dir={self._etcd_dir}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--initial-cluster-state=new",
                "--logger=zap",
                "--log-level=warn",
                "--quota-backend-bytes=2147483648",
            ],
        )
        self.wait_http("etcd", f"{self.etcd_url}/health", ssl_ctx=None, token=None)

        users = [self.admin, *self.extra_users]
        token_file = self.workdir / "tokens.csv"
        token_file.write_text(
            "".join(f'{u.token},{u.name},{u.uid or u.name},"{",".join(u.groups)}"\n' for u in users)
        )
        token_file.chmod(0o600)
        self.server = f"https://{self.address}:{apiserver_port}"
        self.spawn(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers={self.etcd_url}",
                f"--bind-address={self.address}",
                f"--advertise-address={self.address}",
                f"--secure-port={apiserver_port}",
                "--insecure-port=0",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--token-auth-file={token_file}",
                "--anonymous-auth=false",
                "--authorization-mode=RBAC",
                f"--service-cluster-ip-range={self.service_cluster_ip_range}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'kubelet-client.key'}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--api-audiences={SERVICE_ACCOUNT_ISSUER}",
                "--allow-privileged=true",
                "--profiling=false",
                "--watch-cache=true",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                "--v=1",
                *self.extra_apiserver_args,
            ],
        )
        self.wait_http(
            "kube-apiserver",
            f"{self.server}/readyz",
            ssl_ctx=self.ssl_context(),
            token=self.admin.token,
        )

        self.kubeconfig = self.write_kubeconfig(self.workdir / "kubeconfig", self.admin)

        if self.controller_manager:
            self.controller_manager_url = f"http://127.0.0.1:{cm_port}"
            self.spawn(
                "kube-controller-manager",
                [
                    str(self.bin_dir / "kube-controller-manager"),
                    f"--kubeconfig={self.kubeconfig}",
                    f"--controllers={','.join(self.controllers)}",
                    "--leader-elect=false",
                    "--use-service-account-credentials=false",
                    f"--service-account-private-key-file={pki / 'sa.key'}",
                    f"--root-ca-file={self.ca_file}",
                    f"--service-cluster-ip-range={self.service_cluster_ip_range}",
                    "--address=127.0.0.1",
                    f"--port={cm_port}",
                    "--secure-port=0",
                    "--profiling=false",
                    "--v=1",
                    *self.extra_controller_manager_args,
                ],
            )
            self.wait_http(
                "kube-controller-manager",
                f"{self.controller_manager_url}/healthz",
                ssl_ctx=None,
                token=None,
            )

    def stop(self, *, keep_logs: bool = False) -> None:
        """Terminate the processes (newest first), kill what lingers, remove the work dir
        (unless ``keep_workdir`` or ``keep_logs``; etcd's data goes unless ``keep_workdir``)."""
        errors = []
        for proc in reversed(self._procs):
            popen = proc.popen
            if popen is not None and popen.poll() is None:
                popen.terminate()
                try:
                    popen.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    errors.append(f"{proc.name} ignored SIGTERM for {self.stop_timeout}s; killed")
                    popen.kill()
                    popen.wait(timeout=self.stop_timeout)
            if proc.log_file is not None:
                proc.log_file.close()
        self._procs.clear()
        if self._etcd_dir is not None and not self.keep_workdir:
            shutil.rmtree(self._etcd_dir, ignore_errors=True)
            self._etcd_dir = None
        workdir = getattr(self, "workdir", None)
        if workdir is not None and not (self.keep_workdir or keep_logs):
            shutil.rmtree(workdir, ignore_errors=True)
        if errors:
            print("\n".join(errors), file=sys.stderr)

    # --- helpers ----------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        """Start a process logging to ``<workdir>/<name>.log``; ``stop()`` ends it (newest
        first), ``check_alive()`` and ``log_tails()`` cover it. A node's processes join the
        control plane's this way (support.local_cluster)."""
        log_path = self.workdir / f"{name}.log"
        proc = _Proc(name=name, argv=argv, log_path=log_path)
        proc.log_file = log_path.open("wb")
        proc.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=proc.log_file,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=env,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self._procs.append(proc)

    def wait_http(
        self, name: str, url: str, *, ssl_ctx: ssl.SSLContext | None, token: str | None
    ) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer yet"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        while time.monotonic() < deadline:
            self.check_alive()
            request = urllib.request.Request(url, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=5, context=ssl_ctx) as response:
                    body = response.read().decode(errors="replace")
                    if response.status == 200:
                        return
                    last = f"HTTP {response.status}: {body[:200]}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}: {exc.read().decode(errors='replace')[:300]}"
            except (OSError, ssl.SSLError) as exc:
                last = str(exc)
            time.sleep(0.25)
        raise ControlPlaneError(
            f"{name} not healthy at {url} within {self.startup_timeout:.0f}s: {last}"
        )

    def check_alive(self) -> None:
        """Raise ``ControlPlaneError`` if a process has exited."""
        for proc in self._procs:
            if proc.popen is not None and proc.popen.poll() is not None:
                raise ControlPlaneError(f"{proc.name} exited with {proc.popen.returncode}")

    def log_tails(self, lines: int = 40) -> str:
        """The last ``lines`` of each process's log, for failure reports."""
        return "\n".join(
            f"----- {proc.name} ({proc.log_path}) -----\n{proc.tail(lines)}" for proc in self._procs
        )

    def logs(self) -> Iterator[tuple[str, Path]]:
        """(name, log path) for each process."""
        for proc in self._procs:
            yield proc.name, proc.log_path

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def write_kubeconfig(self, path: Path, user: StaticUser, namespace: str = "default") -> Path:
        """A kubeconfig for ``user`` (JSON, which is YAML); the admin's is ``self.kubeconfig``."""
        config: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "frontier-test",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": user.name, "user": {"token": user.token}}],
            "contexts": [
                {
                    "name": "frontier-test",
                    "context": {
                        "cluster": "frontier-test",
                        "user": user.name,
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "frontier-test",
        }
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path

    def api_client(self, user: StaticUser | None = None) -> ApiClient:
        """A ``kubernetes.client.ApiClient`` for ``user`` (default: the admin)."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.server
        configuration.ssl_ca_cert = str(self.ca_file)
        configuration.api_key = {"authorization": (user or self.admin).token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(configuration)

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (e.g. kopf) that should talk to this control plane."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float = 60.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until it returns something truthy and return it; ``TimeoutError`` after
    ``timeout`` seconds (with the last exception from ``probe``, if any, chained)."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = probe()
        except Exception as exc:
            last_exc = exc
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}") from last_exc
        time.sleep(interval)
