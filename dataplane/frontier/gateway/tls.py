"""Server TLS contexts from the `tls` blocks of the config (TLS and mutual TLS).

As upstream: TLS 1.2 or newer, ECDHE key exchange with AES-GCM or ChaCha20 for TLS 1.2,
several certificate pairs allowed, and mTLS requiring a client certificate signed by one
of `ca_certs`.
"""

from __future__ import annotations

import datetime
import logging
import ssl
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from prometheus_client import Gauge

from .config import TLS, ConfigError

__all__ = [
    "EXPIRY_WARNING",
    "check_certificates",
    "client_ssl_context",
    "not_after_gauge",
    "server_ssl_context",
]

log = logging.getLogger("frontier.tls")

EXPIRY_WARNING = datetime.timedelta(days=14)
"""A server certificate expiring sooner than this is warned about at start-up."""

_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def server_ssl_context(tls: TLS, where: str) -> ssl.SSLContext | None:
    """None when TLS is off; `ConfigError` naming `where` when the files are unusable."""
    if not tls.enable:
        return None
    if not tls.certs:
        raise ConfigError(f"{where}.tls.certs: TLS is enabled but no certificate is given")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    for index, pair in enumerate(tls.certs):
        try:
            context.load_cert_chain(pair.cert, pair.key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{where}.tls.certs[{index}]: {exc}") from exc
    if tls.mtls:
        if not tls.ca_certs:
            raise ConfigError(f"{where}.tls.ca_certs: mtls needs at least one CA certificate")
        context.verify_mode = ssl.CERT_REQUIRED
        for index, ca in enumerate(tls.ca_certs):
            try:
                context.load_verify_locations(cafile=ca)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"{where}.tls.ca_certs[{index}]: {exc}") from exc
    return context


def client_ssl_context(tls: TLS, where: str) -> ssl.SSLContext | None:
    """A client context (frontier dialling frontlas, frontlas dialling Redis): server
    verification against `ca_certs` (the system store when none), an optional client
    certificate (the first of `certs`) for mTLS, `insecure_skip_verify` for tests only."""
    if not tls.enable:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for index, ca in enumerate(tls.ca_certs):
        try:
            context.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{where}.ca_certs[{index}]: {exc}") from exc
    if tls.certs:
        pair = tls.certs[0]
        try:
            context.load_cert_chain(pair.cert, pair.key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{where}.certs[0]: {exc}") from exc
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def check_certificates(
    tls: TLS,
    where: str,
    report: Callable[[str, float], None],
    *,
    now: datetime.datetime | None = None,
) -> list[str]:
    """Warn about server certificates that expired or expire within `EXPIRY_WARNING`, and
    `report(path, not_after)` for each (the expiry metric). An expired certificate still
    loads (OpenSSL does not check the validity of its own certificate): clients would fail
    their handshakes with nothing on our side to say why. Returns the warnings."""
    if not tls.enable:
        return []
    now = now or datetime.datetime.now(datetime.UTC)
    warnings: list[str] = []
    for index, pair in enumerate(tls.certs):
        try:
            cert = x509.load_pem_x509_certificate(Path(pair.cert).read_bytes())
        except (OSError, ValueError) as exc:  # load_cert_chain already accepted it: odd
            log.warning(
                "%s.tls.certs[%d]: cannot read %s for its expiry: %s", where, index, pair.cert, exc
            )
            continue
        not_after = cert.not_valid_after_utc
        report(pair.cert, not_after.timestamp())
        left = not_after - now
        name = f"{where}.tls.certs[{index}] ({pair.cert})"
        when = f"{not_after:%Y-%m-%d %H:%M} UTC"
        if left <= datetime.timedelta(0):
            text = f"{name} expired on {when}"
        elif left < EXPIRY_WARNING:
            text = f"{name} expires on {when}, in {left.days} days {left.seconds // 3600} hours"
        else:
            continue
        log.warning("%s", text)
        warnings.append(text)
    return warnings


def not_after_gauge(gauge: Gauge, where: str) -> Callable[[str, float], None]:
    """`check_certificates`'s report into a gauge labelled (listener, cert)."""

    def report(cert: str, not_after: float) -> None:
        gauge.labels(where, cert).set(not_after)

    return report
