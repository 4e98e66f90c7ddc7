"""frontd: the encrypted-address TCP gateway (a remake of xindong/frontd).

A client connects, sends its backend's ``host:port`` encrypted (AES-256-CBC in OpenSSL's
``enc`` format, base64, one line), gets a status line, and from then on talks to the backend
through the gateway. Backends stay hidden (clients only hold ciphertexts) and the gateway
needs no backend list. docs/frontd.md has the protocol, the command and the deployment.

Sans-I/O parts: `cipher` (OpenSSL enc), `address` (host:port), `allow` (the allowlist),
`handshake` (request parsing, HTTP rewriting, status answers). I/O: `backend` (resolve and
connect), `relay` (splice or copy), `server` (one worker), `supervisor` (SO_REUSEPORT
workers), `app` / `cli` (the command).
"""

from .cipher import decrypt, encrypt, encrypt_line
from .config import FrontdConfig, load_config, parse_config
from .handshake import HandshakeParser, Status

__all__ = [
    "FrontdConfig",
    "HandshakeParser",
    "Status",
    "decrypt",
    "encrypt",
    "encrypt_line",
    "load_config",
    "parse_config",
]
