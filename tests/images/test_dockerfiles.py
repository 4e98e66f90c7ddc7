"""The container images, checked without a Docker engine.

Each Dockerfile is parsed and checked statically (multi-stage, slim Python 3.11 base, no
compilers in the final stage, COPY sources present in the repository and not excluded by
``.dockerignore``, exec-form ENTRYPOINT/CMD, EXPOSE, non-root USER 65532). Then its builder
stage is *replayed* into a temporary root, once per Dockerfile (a module-scoped fixture): the
build context is assembled as Docker would (COPY sources filtered through ``.dockerignore``),
the builder's ``pip`` / ``python`` commands run with every absolute path moved under the
temporary root (``/wheels`` -> ``<root>/wheels``, ``/opt/frontier`` -> ``<root>/opt/frontier``)
and a fresh virtualenv standing in for the base image's Python, the final stage's COPYs are
applied, and the image's command (ENTRYPOINT + CMD, paths remapped the same way) is started:
frontier, frontlas and frontd must serve ``/healthz`` on their metrics port (the baked default
config with its listen ports moved to free loopback ports), the operator must parse its CMD and
import its dependencies (it needs an API server to do more). pip's cache is shared, so after
the first run this costs about 10-20 s per image.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.ports import free_port

REPO = Path(__file__).resolve().parents[2]

#: operator/frontier_operator/config.py CONFIG_DIR: where the operator mounts the ConfigMaps,
#: so the image's default config must live there too.
CONFIG_DIR = "/usr/conf"
RUN_AS = "65532"
PIP_TIMEOUT = 600.0


@dataclass(frozen=True)
class ImageSpec:
    dockerfile: str
    command: str  # the console script the entrypoint runs
    extras: tuple[str, ...]
    ports: frozenset[int]
    config: str | None  # the baked default config, as a repo path
    modules: tuple[str, ...]  # importable in the installed virtualenv

    @property
    def id(self) -> str:
        return self.dockerfile.removeprefix("Dockerfile.")


IMAGES = (
    ImageSpec(
        "Dockerfile.frontier",
        "frontier",
        ("mq",),
        frozenset({30010, 30011, 30012, 9091}),
        "deploy/images/frontier.yaml",
        ("frontier.gateway.app", "uvloop", "aio_pika", "nats", "aiokafka"),
    ),
    ImageSpec(
        "Dockerfile.frontlas",
        "frontlas",
        (),
        frozenset({40011, 40012, 9092}),
        "deploy/images/frontlas.yaml",
        ("frontier.frontlas.cli", "redis", "uvloop"),
    ),
    ImageSpec(
        "Dockerfile.frontd",
        "frontd",
        (),
        frozenset({4043, 9093}),
        "deploy/images/frontd.yaml",
        ("frontier.frontd.worker", "cryptography", "uvloop"),
    ),
    ImageSpec(
        "Dockerfile.operator",
        "frontier-operator",
        ("operator",),
        frozenset({8080}),
        None,
        ("frontier_operator.handlers", "kopf", "kubernetes"),
    ),
)
METRICS_PORT = {"frontier": 9091, "frontlas": 9092, "frontd": 9093}


# --------------------------------------------------------------------------------------------
# A small Dockerfile parser


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int

    def flags_and_words(self) -> tuple[dict[str, str], list[str]]:
        """``--from=builder a b`` -> ({"from": "builder"}, ["a", "b"]) (shell form only)."""
        flags: dict[str, str] = {}
        words: list[str] = []
        for word in shlex.split(self.args):
            if word.startswith("--") and not words:
                key, _, value = word[2:].partition("=")
                flags[key] = value
            else:
                words.append(word)
        return flags, words

    def exec_form(self) -> list[str]:
        if not self.args.startswith("["):
            raise AssertionError(f"line {self.line}: {self.keyword} is not in exec (JSON) form")
        value = json.loads(self.args)
        assert isinstance(value, list), f"line {self.line}: {self.keyword} is not a JSON list"
        assert all(isinstance(v, str) for v in value), f"line {self.line}: non-string element"
        return [str(v) for v in value]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise AssertionError(f"no stage named {name!r}")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, instruction) with comments dropped and continuations joined."""
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):  # comment inside a continued instruction
            continue
        if not buf:
            start = number
        if line.endswith("\\"):
            buf.append(line[:-1].strip())
            continue
        buf.append(line)
        yield start, " ".join(part for part in buf if part)
        buf = []
    assert not buf, "the Dockerfile ends inside a continued line"


def _expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: variables.get(m.group(1) or m.group(2), m.group(0)),
        value,
    )


def parse_dockerfile(path: Path) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "ARG" and not stages:
            arg, _, default = rest.partition("=")
            global_args[arg] = _expand(default.strip('"'), global_args)
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            base = _expand(words[0], global_args)
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=alias))
        else:
            assert stages, f"{path.name}:{number}: {keyword} before the first FROM"
            stages[-1].instructions.append(Instruction(keyword, rest, number))
    assert stages, f"{path.name}: no FROM"
    return Dockerfile(global_args, stages)


# --------------------------------------------------------------------------------------------
# .dockerignore (moby/patternmatcher semantics)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                out += "(?:.*/)?"
            else:
                out += ".*"
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.index("]", i)
            out += "[" + pattern[i + 1 : end].replace("\\", "\\\\") + "]"
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out)


@dataclass(frozen=True)
class DockerIgnore:
    rules: tuple[tuple[bool, str, re.Pattern[str]], ...]  # (exception, pattern, regex)

    @classmethod
    def load(cls, path: Path) -> DockerIgnore:
        rules = []
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exception = line.startswith("!")
            pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
            rules.append((exception, pattern, _pattern_regex(pattern)))
        return cls(tuple(rules))

    def excluded(self, rel: str) -> bool:
        """Whether the context path ``rel`` (posix, relative) is left out of the context."""
        parts = rel.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        matched = False
        for exception, _, regex in self.rules:
            if exception != matched:
                continue
            if any(regex.fullmatch(c) for c in candidates):
                matched = not exception
        return matched

    def may_include_below(self, rel_dir: str) -> bool:
        """Whether an exception pattern could re-include something under ``rel_dir``."""
        return any(exc and pattern.startswith(rel_dir + "/") for exc, pattern, _ in self.rules)


def context_files(ignore: DockerIgnore, src: str) -> list[str]:
    """The files under the context path ``src`` that reach the build (relative, posix)."""
    top = REPO / src
    if top.is_file():
        return [] if ignore.excluded(src) else [src]
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(top):
        rel_dir = Path(dirpath).relative_to(REPO).as_posix()
        dirnames[:] = [
            d
            for d in dirnames
            if not ignore.excluded(f"{rel_dir}/{d}") or ignore.may_include_below(f"{rel_dir}/{d}")
        ]
        found += [f"{rel_dir}/{f}" for f in filenames if not ignore.excluded(f"{rel_dir}/{f}")]
    return sorted(found)


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def dockerignore() -> DockerIgnore:
    path = REPO / ".dockerignore"
    assert path.is_file(), ".dockerignore is missing"
    return DockerIgnore.load(path)


@pytest.fixture(params=IMAGES, ids=[s.id for s in IMAGES], scope="module")
def image(request: pytest.FixtureRequest) -> ImageSpec:
    spec: ImageSpec = request.param
    return spec


@pytest.fixture(scope="module")
def dockerfile(image: ImageSpec) -> Dockerfile:
    return parse_dockerfile(REPO / image.dockerfile)


# --------------------------------------------------------------------------------------------
# static checks


def test_stages_slim_python_multi_stage(dockerfile: Dockerfile) -> None:
    assert len(dockerfile.stages) >= 2, "expected a builder stage and a runtime stage"
    for stage in dockerfile.stages:
        assert re.fullmatch(r"(docker\.io/(library/)?)?python:3\.11[.\d]*-slim\S*", stage.base), (
            stage.base
        )
    builder, final = dockerfile.stages[0], dockerfile.final
    # The virtualenv is copied across stages: the interpreter paths must be the same.
    assert builder.base == final.base
    assert builder.name, "the builder stage needs a name for COPY --from"
    runs = " ".join(i.args for i in builder.all("RUN"))
    assert "pip wheel" in runs, "wheels are built in the builder stage"
    froms = [i.flags_and_words()[0].get("from") for i in final.all("COPY")]
    assert builder.name in froms, "the final stage copies the builder's virtualenv"


def test_no_compilers_in_final_stage(dockerfile: Dockerfile) -> None:
    for run in dockerfile.final.all("RUN"):
        assert not re.search(r"\b(gcc|g\+\+|cc|clang|build-essential|make)\b", run.args), (
            f"line {run.line}: {run.args}"
        )
        for verb in ("apt-get install", "pip install"):
            assert verb not in run.args, (
                f"line {run.line}: the final stage installs nothing, it copies the virtualenv"
            )


def test_copy_sources_exist_and_reach_the_context(
    dockerfile: Dockerfile, dockerignore: DockerIgnore
) -> None:
    for stage in dockerfile.stages:
        for copy in stage.all("COPY") + stage.all("ADD"):
            flags, words = copy.flags_and_words()
            if "from" in flags:
                continue
            assert len(words) >= 2, f"line {copy.line}: COPY needs a source and a destination"
            for src in words[:-1]:
                assert (REPO / src).exists(), f"line {copy.line}: {src} is not in the repository"
                files = context_files(dockerignore, src.rstrip("/"))
                assert files, f"line {copy.line}: .dockerignore leaves nothing of {src}"
                if (REPO / src).is_dir():  # every tracked-looking source file gets through
                    py = [f for f in files if f.endswith(".py")]
                    on_disk = [
                        p
                        for p in (REPO / src).rglob("*.py")
                        if "__pycache__" not in p.parts and ".egg-info" not in str(p)
                    ]
                    assert len(py) == len(on_disk), f"{src}: .dockerignore drops source files"


def test_dockerignore_keeps_the_context_small(dockerignore: DockerIgnore) -> None:
    for path in (".git", ".venv", "tests/conftest.py", "charts", "bench", "docs/deploy.md"):
        assert dockerignore.excluded(path), path
    for path in ("pyproject.toml", "README.md", "dataplane/frontier/__init__.py"):
        assert not dockerignore.excluded(path), path
    assert dockerignore.excluded("dataplane/frontier/__pycache__/x.cpython-311.pyc")


def test_user_is_non_root_65532(dockerfile: Dockerfile) -> None:
    from frontier_operator.builders import RUN_AS_ID

    user = dockerfile.final.last("USER")
    assert user is not None, "the final stage must set USER"
    uid, _, gid = user.args.partition(":")
    assert uid == RUN_AS == str(RUN_AS_ID), user.args
    assert gid in ("", RUN_AS), user.args


def test_exposes_the_real_ports(dockerfile: Dockerfile, image: ImageSpec) -> None:
    ports = {
        int(p.split("/")[0])
        for expose in dockerfile.final.all("EXPOSE")
        for p in expose.args.split()
    }
    assert ports == image.ports


def test_exec_form_entrypoint_and_config(dockerfile: Dockerfile, image: ImageSpec) -> None:
    entry = dockerfile.final.last("ENTRYPOINT")
    cmd = dockerfile.final.last("CMD")
    assert entry is not None
    assert cmd is not None
    argv = entry.exec_form()
    assert len(argv) == 1, argv
    assert Path(argv[0]).name == image.command, argv
    args = cmd.exec_form()
    if image.config is None:
        return
    # The default config is baked in where the operator mounts its ConfigMap, and CMD is
    # exactly the operator's container args (builders.py), so either works alone.
    from frontier_operator.config import CONFIG_DIR as operator_config_dir

    assert operator_config_dir == CONFIG_DIR
    target = f"{CONFIG_DIR}/{Path(image.config).name}"
    assert args == ["--config", target]
    copies = [c.flags_and_words()[1] for c in dockerfile.final.all("COPY")]
    assert [image.config, target] in copies, f"{image.config} must be copied to {target}"


def test_install_spec_has_the_right_extras(dockerfile: Dockerfile, image: ImageSpec) -> None:
    specs = [w for run in dockerfile.stages[0].all("RUN") for w in _pip_specs(run.args, "wheel")]
    assert len(specs) == 1, specs
    match = re.fullmatch(r"\.(?:\[([\w,]*)\])?", specs[0])
    assert match, specs[0]
    extras = tuple(e for e in (match.group(1) or "").split(",") if e)
    assert extras == image.extras


def _pip_specs(run: str, verb: str) -> list[str]:
    """Positional arguments of ``pip <verb>`` commands in a RUN line."""
    out: list[str] = []
    for command in _commands(run):
        if len(command) < 2 or Path(command[0]).name not in ("pip", "pip3"):
            continue
        if command[1] != verb:
            continue
        words = iter(command[2:])
        for word in words:
            if word in ("-w", "--wheel-dir", "-f", "--find-links", "-c", "-r", "-i"):
                next(words, None)
            elif not word.startswith("-"):
                out.append(word)
    return out


def _commands(run: str) -> list[list[str]]:
    return [shlex.split(part) for part in re.split(r"&&|;", run) if part.strip()]


# --------------------------------------------------------------------------------------------
# replaying the build and starting the image's command


@dataclass
class Built:
    root: Path  # stands for the image's filesystem
    env: dict[str, str]
    argv: list[str]  # ENTRYPOINT + CMD, remapped under root
    log: Path


def _under(root: Path, word: str) -> str:
    return str(root / word.lstrip("/")) if word.startswith("/") else word


def _run(argv: list[str], *, cwd: Path, log: Path, timeout: float = PIP_TIMEOUT) -> None:
    with log.open("a") as out:
        out.write(f"$ {shlex.join(argv)}\n")
        out.flush()
        proc = subprocess.run(
            argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        pytest.fail(f"{shlex.join(argv)} exited {proc.returncode}:\n{tail}", pytrace=False)


def _copy(src: Path, dest: Path, rel_src: str, ignore: DockerIgnore) -> None:
    if src.is_dir():
        for rel in context_files(ignore, rel_src):
            target = dest / Path(rel).relative_to(rel_src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, target)
    else:
        target = dest / src.name if dest.is_dir() or str(dest).endswith("/") else dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _apply_copy(instruction: Instruction, root: Path, workdir: str, ignore: DockerIgnore) -> None:
    flags, words = instruction.flags_and_words()
    if "from" in flags:  # from the builder stage: the replay shares one root
        return
    *sources, dest = words
    dest_abs = dest if dest.startswith("/") else f"{workdir.rstrip('/')}/{dest}"
    target = root / dest_abs.lstrip("/")
    if dest.endswith("/") or len(sources) > 1:
        target.mkdir(parents=True, exist_ok=True)
    for src in sources:
        _copy(REPO / src.rstrip("/"), target, src.rstrip("/"), ignore)


def _env_updates(instruction: Instruction, env: dict[str, str], root: Path) -> None:
    for word in shlex.split(instruction.args):
        key, _, value = word.partition("=")
        # Paths of the image move under root; $VARS expand to this machine's values.
        parts = [_expand(p, env) if "$" in p else _under(root, p) for p in value.split(":")]
        env[key] = ":".join(parts)


@pytest.fixture(scope="module")
def built(
    dockerfile: Dockerfile,
    image: ImageSpec,
    dockerignore: DockerIgnore,
    tmp_path_factory: pytest.TempPathFactory,
) -> Built:
    """The Dockerfile's builder stage replayed in a temporary root (see the module doc)."""
    root = tmp_path_factory.mktemp(f"image-{image.id}")
    log = root.parent / f"{image.id}-build.log"
    base = root.parent / f"{image.id}-base-python"  # the base image's Python, with pip
    subprocess.run([sys.executable, "-m", "venv", str(base)], check=True, timeout=120)
    base_python = str(base / "bin" / "python")

    env: dict[str, str] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for stage in dockerfile.stages:
        workdir = "/"
        for ins in stage.instructions:
            if ins.keyword == "WORKDIR":
                workdir = ins.args
                (root / workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
            elif ins.keyword == "COPY":
                _apply_copy(ins, root, workdir, dockerignore)
            elif ins.keyword == "ENV" and stage is dockerfile.final:
                _env_updates(ins, env, root)
            elif ins.keyword == "RUN":
                for command in _commands(ins.args):
                    program = Path(command[0]).name
                    if program in ("apt-get", "rm"):
                        continue  # system packages: not replayable here, not needed
                    args = [_under(root, w) for w in command[1:]]
                    if command[0].startswith("/"):  # e.g. /opt/frontier/bin/pip
                        argv = [_under(root, command[0]), *args]
                    elif program in ("pip", "pip3"):
                        argv = [base_python, "-m", "pip", *args]
                    elif program in ("python", "python3"):
                        argv = [base_python, *args]
                    else:
                        pytest.fail(f"line {ins.line}: cannot replay {command[0]!r}")
                    _run(argv, cwd=root / workdir.lstrip("/"), log=log)

    entry = dockerfile.final.last("ENTRYPOINT")
    cmd = dockerfile.final.last("CMD")
    assert entry is not None
    assert cmd is not None
    argv = [_under(root, w) for w in entry.exec_form() + cmd.exec_form()]
    assert Path(argv[0]).is_file(), f"the entrypoint {argv[0]} was not installed"
    for key in ("HOME", "LANG", "TMPDIR"):
        if key in os.environ:
            env[key] = os.environ[key]
    return Built(root=root, env=env, argv=argv, log=log)


def test_installed_modules_import(built: Built, image: ImageSpec) -> None:
    python = Path(built.argv[0]).parent / "python"
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    proc = subprocess.run(
        [str(python), "-c", code, *image.modules],
        env=built.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def _remap_listen_ports(node: Any, ports: dict[int, int]) -> Any:
    """Every ``addr: 0.0.0.0:N`` moved to ``127.0.0.1:<free port>``; ``ports`` maps N to it."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "addr" and isinstance(value, str) and value.startswith("0.0.0.0:"):
                original = int(value.rsplit(":", 1)[1])
                ports[original] = free_port()
                out[key] = f"127.0.0.1:{ports[original]}"
            else:
                out[key] = _remap_listen_ports(value, ports)
        return out
    if isinstance(node, list):
        return [_remap_listen_ports(v, ports) for v in node]
    return node


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, urllib.error.URLError):
        return None


@contextlib.contextmanager
def _started(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def test_entrypoint_starts(built: Built, image: ImageSpec) -> None:
    """frontier / frontlas / frontd: serve /healthz and stop on SIGTERM; the operator: its CLI."""
    if image.config is None:
        _check_operator_command_line(built)
    else:
        _check_serves_healthz(built, image)


def _check_serves_healthz(built: Built, image: ImageSpec) -> None:
    # The baked config, with its listeners moved to free loopback ports.
    config = Path(built.argv[built.argv.index("--config") + 1])
    assert config.is_file(), f"{config}: the default config was not copied into the image"
    ports: dict[int, int] = {}
    config.write_text(
        yaml.safe_dump(_remap_listen_ports(yaml.safe_load(config.read_text()), ports))
    )
    metrics = ports.get(METRICS_PORT[image.command])
    assert metrics, f"the default config does not listen on {METRICS_PORT[image.command]}"
    # frontd's secret comes from the environment (a Kubernetes Secret), never the image
    env = {**built.env, "FRONTIER_DRAIN_SECONDS": "0", "FRONTD_SECRET": "image-test"}
    log = built.root.parent / f"{image.id}-run.log"
    url = f"http://127.0.0.1:{metrics}/healthz"
    with _started(built.argv, env, log) as proc:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            status = _http_status(url)
            if status == 200 or proc.poll() is not None:
                break
            time.sleep(0.1)
        output = log.read_text(errors="replace")[-3000:]
        assert proc.poll() is None, f"{image.command} exited {proc.returncode}:\n{output}"
        assert status == 200, f"GET {url}: {status}\n{output}"
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{image.command} ignored SIGTERM for 30 s:\n{output}")
        assert code == 0, f"{image.command} exited {code} on SIGTERM:\n{log.read_text()[-3000:]}"


def _check_operator_command_line(built: Built) -> None:
    # kopf needs an API server to start; the command line and the imports are checked here.
    help_out = subprocess.run(
        [built.argv[0], "--help"], env=built.env, capture_output=True, text=True, timeout=60
    )
    assert help_out.returncode == 0, help_out.stderr
    assert "--namespace" in help_out.stdout
    # CMD parses with the operator's own parser (kopf itself needs an API server).
    python = str(Path(built.argv[0]).parent / "python")
    code = (
        "import sys\nfrom frontier_operator.cli import build_parser\n"
        "a = build_parser().parse_args(sys.argv[1:])\nprint(a.all_namespaces, a.liveness)"
    )
    parsed = subprocess.run(
        [python, "-c", code, *built.argv[1:]],
        env=built.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert parsed.returncode == 0, parsed.stderr
    assert parsed.stdout.split() == ["True", "http://0.0.0.0:8080/healthz"]
