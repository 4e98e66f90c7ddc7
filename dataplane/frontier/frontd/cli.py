"""The `frontd` command: run the gateway, or ``frontd encrypt`` / ``frontd decrypt``.

``frontd [flags]`` serves (flags below, config file with ``--config``, the shared
``--log-level``, ``--log-format``, ``--print-default-config`` and ``--version``);
``frontd encrypt HOST:PORT`` prints the ciphertext line a client sends, and
``frontd decrypt [LINE]`` prints the address a line names. Both helpers are compatible with
``openssl enc -aes-256-cbc -a -salt -k SECRET`` (``-md md5``, ``-md sha256`` or ``-pbkdf2``)
in both directions. Exit codes: 0 ok, 1 cannot start (or cannot decrypt), 2 bad
configuration or usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

from ..daemon import daemon_main, daemon_parser
from ..strict_yaml import ConfigError
from .address import parse_backend
from .cipher import DERIVATIONS, CipherError, KeyCache, decode_line, decrypt, encrypt_line
from .config import FrontdConfig, apply_flags, default_config_yaml, load_config
from .pidfile import PidFile

__all__ = ["main"]

_DESCRIPTION = (
    "frontd: a TCP gateway to backends named by an encrypted address. A client sends "
    "base64(AES-256-CBC(host:port)) and a newline, gets a status line, then talks to the "
    "backend. Also: 'frontd encrypt HOST:PORT' and 'frontd decrypt [LINE]'."
)


def _parser() -> argparse.ArgumentParser:
    parser = daemon_parser("frontd", _DESCRIPTION)
    add = parser.add_argument
    add("--secret", help="the shared secret (prefer env FRONTD_SECRET: flags show in ps)")
    add("--addr", metavar="HOST:PORT", help="listen address (default 0.0.0.0:4043)")
    add("--reuse", action="store_true", help="SO_REUSEPORT worker processes, supervised")
    add(
        "--workers", type=int, metavar="N", help="worker processes (implies --reuse; default: CPUs)"
    )
    add("--retry", type=int, metavar="N", help="further connect attempts after a failure (1)")
    add("--timeout", type=float, metavar="SECONDS", help="backend connect timeout per attempt (3)")
    add("--buffer", type=int, metavar="BYTES", help="relay buffer per direction (262144)")
    add("--pidfile", metavar="PATH", help="write the pid here; removed at exit")
    add(
        "--allow",
        action="append",
        metavar="CIDR[:PORTS]",
        help="reachable backends, repeatable (default: all but this host's own addresses)",
    )
    add("--status-format", choices=("line", "byte"), help="line: '200\\n'; byte: the original's")
    add("--relay", choices=("auto", "splice", "copy"), help="zero-copy splice or copied")
    add("--idle-timeout", type=float, metavar="SECONDS", help="close idle relays (900; 0: never)")
    add("--md", dest="derivations", metavar="LIST", help="key derivations, e.g. md5,sha256,pbkdf2")
    add(
        "--observability",
        metavar="HOST:PORT",
        help="/healthz /readyz /metrics address (default 0.0.0.0:9093; '' turns it off)",
    )
    return parser


def _overrides(args: argparse.Namespace, config: FrontdConfig) -> FrontdConfig:
    config = apply_flags(args, config)
    # the workers configure logging themselves from the config: carry the flags into it
    log = config.log
    if args.log_level:
        log = dataclasses.replace(log, level=args.log_level)
    if args.log_format:
        log = dataclasses.replace(log, format=args.log_format)
    return dataclasses.replace(config, log=log)


async def _run(config: FrontdConfig) -> int:
    pidfile = PidFile(config.daemon.pidfile) if config.daemon.pidfile else None
    if pidfile is not None:
        pidfile.acquire()
    try:
        if config.listen.reuse:
            from .supervisor import run_supervised

            return await run_supervised(config)
        from .app import run_single

        return await run_single(config)
    finally:
        if pidfile is not None:
            pidfile.release()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("encrypt", "decrypt"):
        return _helper(args)
    return daemon_main(
        args,
        _parser(),
        default_yaml=default_config_yaml,
        load=load_config,
        run=_run,
        overrides=_overrides,
    )


def _helper(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="frontd", description=_DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    enc = commands.add_parser("encrypt", help="print the ciphertext line for HOST:PORT")
    enc.add_argument("address", metavar="HOST:PORT")
    enc.add_argument(
        "--md",
        choices=DERIVATIONS,
        default="pbkdf2",
        help="key derivation (default pbkdf2, as openssl enc -pbkdf2)",
    )
    dec = commands.add_parser("decrypt", help="print the address a ciphertext line names")
    dec.add_argument("line", nargs="?", help="the base64 line (default: read stdin)")
    dec.add_argument(
        "--md",
        default=",".join(DERIVATIONS),
        help="key derivations to try, in order (default md5,sha256,pbkdf2)",
    )
    for sub in (enc, dec):
        sub.add_argument("--secret", help="the secret (default: env FRONTD_SECRET or SECRET)")
        sub.add_argument("--secret-file", metavar="PATH", help="read the secret from a file")
    args = parser.parse_args(argv)
    try:
        secret = _secret(args)
    except ConfigError as exc:
        print(f"frontd {args.command}: {exc}", file=sys.stderr)
        return 2
    if args.command == "encrypt":
        try:
            parse_backend(args.address.encode())
        except ValueError as exc:
            print(f"frontd encrypt: {exc}", file=sys.stderr)
            return 2
        print(encrypt_line(secret, args.address.encode(), args.md))
        return 0
    derivations = [d.strip() for d in args.md.split(",") if d.strip()]
    unknown = [d for d in derivations if d not in DERIVATIONS]
    if unknown or not derivations:
        print(f"frontd decrypt: --md takes {', '.join(DERIVATIONS)}", file=sys.stderr)
        return 2
    text = args.line if args.line is not None else sys.stdin.read()
    line = "".join(text.split())  # openssl -a wraps at 64 columns
    try:
        backend, derivation = decrypt(
            decode_line(line.encode()),
            derivations,  # checked against DERIVATIONS above
            parse_backend,
            KeyCache(secret, capacity=0),
        )
    except CipherError as exc:
        print(f"frontd decrypt: {exc}", file=sys.stderr)
        return 1
    print(backend)
    print(f"(key derivation: {derivation})", file=sys.stderr)
    return 0


def _secret(args: argparse.Namespace) -> bytes:
    if args.secret:
        return str(args.secret).encode()
    if args.secret_file:
        try:
            with open(args.secret_file, encoding="utf-8") as handle:
                return handle.read().rstrip("\r\n").encode()
        except OSError as exc:
            raise ConfigError(f"cannot read {args.secret_file!r}: {exc.strerror}") from None
    secret = os.environ.get("FRONTD_SECRET") or os.environ.get("SECRET")
    if not secret:
        raise ConfigError("no secret: give --secret, --secret-file or env FRONTD_SECRET")
    return secret.encode()


if __name__ == "__main__":
    raise SystemExit(main())
