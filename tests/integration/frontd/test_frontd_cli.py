"""The `frontd` command line: flags shared with the other daemons, errors and exit codes,
and the encrypt/decrypt helpers, including against the real `openssl` command."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from frontier import __version__
from frontier.frontd.cipher import DERIVATIONS, derive
from frontier.frontd.config import parse_config
from support.frontd import FRONTD, SECRET

pytestmark = pytest.mark.integration

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(
    OPENSSL is None, reason="the openssl command is not installed (./dev test installs it)"
)
OPENSSL_FLAGS = {"md5": ["-md", "md5"], "sha256": ["-md", "sha256"], "pbkdf2": ["-pbkdf2"]}


def run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("FRONTD_SECRET", "SECRET")}
    return subprocess.run(
        [*FRONTD, *args], input=stdin, capture_output=True, text=True, timeout=60,
        env={**clean, **env},
    )  # fmt: skip


def openssl(*args: str, stdin: str) -> str:
    assert OPENSSL is not None
    result = subprocess.run(
        [OPENSSL, "enc", "-aes-256-cbc", *args], input=stdin, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    return result.stdout


def test_version_and_the_shared_logging_flags() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"frontd {__version__} (")  # + how it was built
    help_text = run("--help").stdout
    for flag in ("--log-level", "--log-format", "--config", "--secret", "--addr", "--reuse",
                 "--workers", "--retry", "--timeout", "--buffer", "--pidfile", "--allow",
                 "--status-format"):  # fmt: skip
        assert flag in help_text


def test_print_default_config_is_a_valid_documented_config() -> None:
    out = run("--print-default-config").stdout
    assert "#" in out
    assert parse_config(yaml.safe_load(out), {"SECRET": "s"}).listen.addr == "0.0.0.0:4043"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], {}, "no secret"),
        (["--allow", "10.0.0.0/99"], {"FRONTD_SECRET": "s"}, "backend.allow"),
        (["--md", "sha1"], {"FRONTD_SECRET": "s"}, "sha1"),
        ([], {"FRONTD_SECRET": "s", "BACKEND_TIMEOUT": "never"}, "BACKEND_TIMEOUT"),
    ],
)
def test_configuration_errors_exit_2_naming_the_problem(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = run(*args, **env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_an_unknown_config_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "frontd.yaml"
    path.write_text("backend:\n  timout: 3\n")
    result = run("--config", str(path), FRONTD_SECRET="s")
    assert result.returncode == 2
    assert "backend.timout" in result.stderr


def test_encrypt_then_decrypt() -> None:
    for md in DERIVATIONS:
        line = run("encrypt", "--secret", "k", "--md", md, "db.internal:5432").stdout.strip()
        result = run("decrypt", line, FRONTD_SECRET="k")
        assert result.stdout.strip() == "db.internal:5432"
        assert f"key derivation: {md}" in result.stderr


def test_decrypt_reads_stdin_and_the_reference_vector() -> None:
    result = run(
        "decrypt",
        "--secret",
        "p0S8rX680*48",
        stdin="U2FsdGVkX19KIJ9OQJKT/yHGMrS+5SsBAAjetomptQ0=\n",
    )
    assert result.stdout.strip() == "127.0.0.1:62863"


def test_helper_errors() -> None:
    assert run("encrypt", "--secret", "k", "not an address").returncode == 2
    assert run("encrypt", "127.0.0.1:1").returncode == 2  # no secret
    wrong = run("decrypt", "--secret", "x", "U2FsdGVkX19KIJ9OQJKT/yHGMrS+5SsBAAjetomptQ0=")
    assert wrong.returncode == 1
    assert "wrong secret" in wrong.stderr


def test_a_secret_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    line = run("encrypt", "--secret-file", str(path), "10.0.0.1:80").stdout.strip()
    assert run("decrypt", "--secret", SECRET, line).stdout.strip() == "10.0.0.1:80"


@needs_openssl
@pytest.mark.parametrize("md", DERIVATIONS)
def test_openssl_ciphertexts_decrypt(md: str) -> None:
    line = openssl("-a", "-salt", "-k", "open sesame", *OPENSSL_FLAGS[md], stdin="10.9.8.7:6543")
    result = run("decrypt", "--secret", "open sesame", line)
    assert result.stdout.strip() == "10.9.8.7:6543", result.stderr
    assert f"key derivation: {md}" in result.stderr


@needs_openssl
@pytest.mark.parametrize("md", DERIVATIONS)
def test_our_ciphertexts_decrypt_with_openssl(md: str) -> None:
    line = run("encrypt", "--secret", "open sesame", "--md", md, "[2001:db8::5]:443").stdout
    plain = openssl("-d", "-a", "-A", "-k", "open sesame", *OPENSSL_FLAGS[md], stdin=line)
    assert plain == "[2001:db8::5]:443"


@needs_openssl
@pytest.mark.parametrize("md", DERIVATIONS)
def test_derive_matches_openssl_for_random_secrets_and_salts(md: str) -> None:
    for _ in range(3):
        secret, salt = os.urandom(12).hex(), os.urandom(8)
        printed = openssl("-k", secret, "-S", salt.hex(), *OPENSSL_FLAGS[md], "-P", stdin="")
        values = dict(line.replace(" ", "").split("=", 1) for line in printed.splitlines())
        key, iv = derive(secret.encode(), salt, md)  # type: ignore[arg-type]
        assert (key.hex().upper(), iv.hex().upper()) == (values["key"], values["iv"])


@needs_openssl
def test_a_long_address_wrapped_by_openssl_still_decrypts() -> None:
    name = "a" * 60 + ".example.internal:65000"
    wrapped = openssl("-a", "-salt", "-k", "s", "-pbkdf2", stdin=name)
    assert "\n" in wrapped.strip()  # openssl wraps base64 at 64 columns
    assert run("decrypt", "--secret", "s", stdin=wrapped).stdout.strip() == name
