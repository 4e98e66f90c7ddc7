"""The e2e tier's images, built for real with Debian's docker engine and no registry.

Nothing can be pulled from an image registry here, so every image starts from a base made
with ``debootstrap`` (Debian bookworm: Python 3.11, the images' version):

* ``frontier-e2e.local/python:3.11-bookworm``: minbase + python3, venv, pip (and ``python``),
  imported once into docker and kept in its data root;
* ``frontier-e2e.local/python-builder:3.11-bookworm``: the same plus the machine's CA
  bundle, for the Dockerfiles' builder stage only (``--build-arg BUILDER_IMAGE``): pip needs it
  behind a TLS-inspecting proxy, and the runtime images do not get it;
* the project's three Dockerfiles, unchanged, with ``--build-arg PYTHON_IMAGE=<base>`` as
  ``frontier-py/{frontier,frontlas,frontier-operator}:e2e``;
* ``frontier-e2e.local/redis:bookworm`` (Debian's redis-server) for the in-cluster Redis and
  ``frontier-e2e.local/pause:3.4`` (the pause binary built from the Kubernetes source) as the
  pod sandbox image.

dockerd runs only while building: in a private mount namespace with a tmpfs over ``/run``
(and over ``/etc/docker``), with no bridge, no iptables and no IP forwarding
(``--bridge=none --iptables=false --ip-forward=false``; builds use ``--network host``), so it
changes nothing on the machine but its data root in the e2e cache. The classic builder is used
(BuildKit would fetch its Dockerfile frontend from a registry). ``build_images()`` returns a
``docker save`` archive of all five for ``LocalCluster.load_images``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from .kube_control_plane import _die_with_parent, wait_for
from .local_cluster import (
    PAUSE_IMAGE,
    ClusterError,
    _ns_inode,
    exclusive_lock,
    kill_namespace,
    run,
)

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
BASE_IMAGE: Final = "frontier-e2e.local/python:3.11-bookworm"
BUILDER_IMAGE: Final = "frontier-e2e.local/python-builder:3.11-bookworm"
REDIS_IMAGE: Final = "frontier-e2e.local/redis:bookworm"
TAG: Final = "e2e"
PROJECT_IMAGES: Final = {
    "frontier": "Dockerfile.frontier",
    "frontlas": "Dockerfile.frontlas",
    "frontier-operator": "Dockerfile.operator",
}
DEBIAN_SUITE: Final = "bookworm"
BASE_PACKAGES: Final = ("python3", "python3-venv", "python3-pip", "python-is-python3")


def project_ref(name: str) -> str:
    return f"frontier-py/{name}:{TAG}"


def missing_tools() -> list[str]:
    return [t for t in ("dockerd", "debootstrap", "unshare") if shutil.which(t) is None]


def _docker_cli() -> str:
    """The CLI of Debian's docker.io (the daemon's own version) before any other on PATH."""
    debian = Path("/usr/bin/docker")
    return str(debian) if os.access(debian, os.X_OK) else (shutil.which("docker") or "docker")


def _ca_bundle() -> Path:
    for candidate in (
        os.environ.get("SSL_CERT_FILE"),
        ssl.get_default_verify_paths().cafile,
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise ClusterError("no CA bundle on this machine for pip inside the builder stage")


@dataclass
class Docker:
    """A private dockerd (see the module docstring); ``docker(...)`` runs the CLI on it."""

    data_root: Path
    workdir: Path
    proc: subprocess.Popen[bytes] | None = field(init=False, default=None)
    mnt_inode: int | None = field(init=False, default=None)
    timings: dict[str, float] = field(init=False, default_factory=dict)

    @property
    def socket(self) -> Path:
        return self.workdir / "docker.sock"

    def start(self) -> None:
        self.data_root.mkdir(parents=True, exist_ok=True)
        etc_docker = self.workdir / "etc-docker"
        etc_docker.mkdir()
        hide_etc = f"mount --bind {etc_docker} /etc/docker" if Path("/etc/docker").is_dir() else ":"
        script = f"""
            mount -t tmpfs -o mode=0755 frontier-e2e-docker-run /run
            mkdir -p /run/lock
            {hide_etc}
            exec dockerd --data-root={self.data_root} --exec-root=/run/docker-e2e \
                --pidfile=/run/docker-e2e.pid --host=unix://{self.socket} \
                --bridge=none --iptables=false --ip6tables=false --ip-forward=false \
                --ip-masq=false --storage-driver=overlay2 --log-level=warn
        """
        log = (self.workdir / "dockerd.log").open("wb")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        log.close()
        ours = _ns_inode("self", "mnt")

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise ClusterError(f"dockerd exited {self.proc.returncode}: {self.log_tail()}")
            if self.mnt_inode is None and _ns_inode(self.proc.pid, "mnt") != ours:
                self.mnt_inode = _ns_inode(self.proc.pid, "mnt")
            return (
                self.socket.exists()
                and subprocess.run(
                    [_docker_cli(), f"--host=unix://{self.socket}", "version"],
                    capture_output=True,
                    timeout=30,
                    check=False,
                ).returncode
                == 0
            )

        wait_for(up, timeout=120, what="dockerd")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        if self.mnt_inode is not None:  # its containerd, shims and build containers
            kill_namespace(self.mnt_inode)
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.workdir / "dockerd.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def docker(
        self, *args: str, timeout: float = 1800, input: str | None = None, what: str = ""
    ) -> str:
        start = time.monotonic()
        env = {**os.environ, "DOCKER_BUILDKIT": "0", "DOCKER_HOST": f"unix://{self.socket}"}
        try:
            proc = subprocess.run(
                [_docker_cli(), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                input=input,
                env=env,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ClusterError(f"docker {' '.join(args)}: {exc}") from exc
        if what:
            self.timings[what] = time.monotonic() - start
        if proc.returncode != 0:
            raise ClusterError(
                f"docker {' '.join(args[:6])}... exited {proc.returncode}:\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc.stdout

    def has_image(self, ref: str) -> bool:
        try:
            self.docker("image", "inspect", ref)
        except ClusterError:
            return False
        return True


def _data_root_lock(
    data_root: Path, timeout: float = 1800.0
) -> contextlib.AbstractContextManager[None]:
    """One dockerd per data root on this machine: each run starts its own engine in a
    private mount namespace, where docker's own pid file cannot see the other, and two
    engines on one data root kill each other's builds ("Error processing tar file(signal:
    terminated)", seen with two test runs at once). Another run's build waits here; the
    images it finds cached afterwards make its own build quick."""
    lock = data_root.parent / f".{data_root.name}.lock"
    return exclusive_lock(lock, timeout, "image build")


@contextlib.contextmanager
def docker_engine(data_root: Path) -> Iterator[Docker]:
    with _data_root_lock(data_root), _docker_engine(data_root) as engine:
        yield engine


@contextlib.contextmanager
def _docker_engine(data_root: Path) -> Iterator[Docker]:
    workdir = Path(tempfile.mkdtemp(prefix="fe2e-docker-"))
    engine = Docker(data_root, workdir)
    try:
        engine.start()
        yield engine
    finally:
        try:
            engine.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _base_image(engine: Docker, cache: Path) -> None:
    """debootstrap bookworm (minbase + Python) and import it, unless docker has it."""
    if engine.has_image(BASE_IMAGE):
        return
    if shutil.which("debootstrap") is None:
        raise ClusterError("debootstrap is missing (Debian package debootstrap)")
    rootfs = cache / "rootfs.tmp"
    shutil.rmtree(rootfs, ignore_errors=True)
    mirror = os.environ.get("FRONTIER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    start = time.monotonic()
    run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
         DEBIAN_SUITE, str(rootfs), mirror],
        timeout=1800,
    )  # fmt: skip
    engine.timings["debootstrap"] = time.monotonic() - start
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
        for entry in (rootfs / junk).glob("*"):
            if entry.is_file() or entry.is_symlink():
                entry.unlink()
            elif entry.is_dir() and entry.name != "partial":
                shutil.rmtree(entry)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    try:
        subprocess.run(
            [_docker_cli(), f"--host=unix://{engine.socket}", "import",
             "--change", "ENV LANG=C.UTF-8", "--change", 'CMD ["python3"]', "-", BASE_IMAGE],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
            timeout=600,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        raise ClusterError(f"docker import of the base failed: {exc.stderr!r}") from exc
    finally:
        tar.wait(timeout=600)
        shutil.rmtree(rootfs, ignore_errors=True)


def _small_build(engine: Docker, tag: str, dockerfile: str, files: dict[str, Path]) -> None:
    with tempfile.TemporaryDirectory(prefix="fe2e-ctx-") as ctx:
        for name, source in files.items():
            shutil.copy(source, Path(ctx) / name)
        (Path(ctx) / "Dockerfile").write_text(dockerfile)
        engine.docker("build", "--network=host", "-q", "-t", tag, ctx, what=tag)


def build_images(engine: Docker, cache: Path, pause_binary: Path, out: Path) -> list[str]:
    """Build every image the tier needs and ``docker save`` them to ``out``; the refs."""
    _base_image(engine, cache)
    _small_build(
        engine,
        BUILDER_IMAGE,
        f"FROM {BASE_IMAGE}\n"
        "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
        "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt\n",
        {"ca-certificates.crt": _ca_bundle()},
    )
    _small_build(
        engine,
        REDIS_IMAGE,
        f"FROM {BASE_IMAGE}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends redis-server "
        "&& rm -rf /var/lib/apt/lists/*\n"
        "USER 65532:65532\n"
        # as the official image: no protected mode (its clients are other pods)
        'ENTRYPOINT ["redis-server", "--protected-mode", "no"]\n',
        {},
    )
    _small_build(
        engine,
        PAUSE_IMAGE,
        'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n',
        {"pause": pause_binary},
    )
    refs = [REDIS_IMAGE, PAUSE_IMAGE]
    for name, dockerfile in PROJECT_IMAGES.items():
        ref = project_ref(name)
        engine.docker(
            "build", "--network=host",
            "--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}",
            "--build-arg", f"BUILDER_IMAGE={BUILDER_IMAGE}",
            "-f", str(REPO_ROOT / dockerfile), "-t", ref, str(REPO_ROOT),
            what=ref,
        )  # fmt: skip
        refs.append(ref)
    # Old builds' dangling images go, after a day: the builder stages' images are dangling
    # too (nothing tagged descends from them), and they are the next build's layer cache.
    engine.docker("image", "prune", "--force", "--filter", "until=24h")
    engine.docker("save", "-o", str(out), *refs, what="docker save")
    return refs


def summary(timings: dict[str, float], refs: Sequence[str]) -> str:
    parts = ", ".join(f"{k} {v:.0f}s" for k, v in timings.items())
    return f"e2e images ({len(refs)}): {parts}"


if __name__ == "__main__":  # pragma: no cover - a manual check: build and save, nothing else
    target = Path(sys.argv[1])
    from .local_cluster import e2e_cache, ensure_node_built

    node = ensure_node_built()
    assert isinstance(node, Path), node
    with docker_engine(e2e_cache() / "docker") as eng:
        print(summary(eng.timings, build_images(eng, e2e_cache(), node / "pause", target)))
