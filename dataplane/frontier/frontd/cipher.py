"""OpenSSL ``enc`` compatible AES-256-CBC: what ``openssl enc -aes-256-cbc -salt -k SECRET``
writes and reads, for the three key derivations ciphertexts are found with in the field.

The format is ``Salted__`` + an 8-byte salt + the CBC ciphertext of the PKCS#7-padded
plaintext. Key (32 bytes) and IV (16 bytes) come from the secret and the salt:

- ``md5``: EVP_BytesToKey with MD5, one iteration (OpenSSL < 1.1's default, the original
  frontd's only derivation);
- ``sha256``: EVP_BytesToKey with SHA-256 (OpenSSL >= 1.1's default for ``-k``);
- ``pbkdf2``: PBKDF2-HMAC-SHA256 with 10 000 iterations (``openssl enc -pbkdf2``'s defaults:
  ``-md sha256``, ``-iter 10000``), the modern choice.

A ciphertext does not say which derivation made it, so `decrypt` tries a list in order and
takes the first whose padding is valid and whose plaintext the caller accepts (`accept`):
a wrong key yields a valid PKCS#7 pad about once in 256 tries, and random bytes that also
parse as ``host:port`` practically never. Pure (no I/O); AES and the KDFs come from
`cryptography`, EVP_BytesToKey (not a KDF `cryptography` offers) is its three-line loop over
`cryptography`'s hashes.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Final, Literal, TypeVar, get_args

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

__all__ = [
    "DERIVATIONS",
    "PBKDF2_ITERATIONS",
    "CipherError",
    "Derivation",
    "KeyCache",
    "decode_line",
    "decrypt",
    "derive",
    "encrypt",
    "encrypt_line",
]

Derivation = Literal["md5", "sha256", "pbkdf2"]
DERIVATIONS: Final[tuple[Derivation, ...]] = get_args(Derivation)
PBKDF2_ITERATIONS: Final = 10_000
MAGIC: Final = b"Salted__"
_KEY, _IV, _BLOCK = 32, 16, 16

T = TypeVar("T")


class CipherError(ValueError):
    """Not a ciphertext we can decrypt with this secret (wrong secret, format or padding)."""


def derive(secret: bytes, salt: bytes, derivation: Derivation) -> tuple[bytes, bytes]:
    """(key, iv) for AES-256-CBC, as ``openssl enc`` derives them from ``-k secret``."""
    if len(salt) != 8:
        raise ValueError("the salt is 8 bytes")
    if derivation == "pbkdf2":
        kdf = PBKDF2HMAC(
            algorithm=hashes.SHA256(), length=_KEY + _IV, salt=salt, iterations=PBKDF2_ITERATIONS
        )
        material = kdf.derive(secret)
    else:
        algorithm: hashes.HashAlgorithm = hashes.MD5() if derivation == "md5" else hashes.SHA256()
        material, block = b"", b""
        while len(material) < _KEY + _IV:  # EVP_BytesToKey, count = 1
            digest = hashes.Hash(algorithm)
            digest.update(block + secret + salt)
            block = digest.finalize()
            material += block
    return material[:_KEY], material[_KEY : _KEY + _IV]


class KeyCache:
    """Derived (key, iv) pairs by (derivation, salt), least recently used dropped first.

    Clients keep their ciphertext and send the same one on every connection, so the salt
    repeats and PBKDF2's 10 000 rounds (milliseconds of CPU) run once per ciphertext rather
    than once per connection. Bounded: a client sending fresh salts costs one derivation
    each and evicts old entries, nothing more."""

    __slots__ = ("_entries", "_secret", "capacity")

    def __init__(self, secret: bytes, capacity: int = 4096) -> None:
        self._secret = secret
        self.capacity = capacity
        self._entries: OrderedDict[tuple[Derivation, bytes], tuple[bytes, bytes]] = OrderedDict()

    def get(self, salt: bytes, derivation: Derivation) -> tuple[bytes, bytes]:
        key = (derivation, salt)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            return found
        found = derive(self._secret, salt, derivation)
        if self.capacity > 0:
            self._entries[key] = found
            if len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return found


def encrypt(
    secret: bytes,
    plaintext: bytes,
    derivation: Derivation = "pbkdf2",
    *,
    salt: bytes | None = None,
) -> bytes:
    """``Salted__`` + salt + ciphertext, as ``openssl enc -aes-256-cbc -salt`` writes it."""
    salt = os.urandom(8) if salt is None else salt
    key, iv = derive(secret, salt, derivation)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return MAGIC + salt + encryptor.update(padded) + encryptor.finalize()


def encrypt_line(secret: bytes, plaintext: bytes, derivation: Derivation = "pbkdf2") -> str:
    """`encrypt`, base64 on one line (``openssl enc -a -A``): what a client sends."""
    return base64.b64encode(encrypt(secret, plaintext, derivation)).decode("ascii")


def decode_line(line: bytes) -> bytes:
    """The bytes of a base64 line (standard alphabet, padding required, no whitespace
    inside); `CipherError` if it is not one."""
    try:
        return base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CipherError(f"not base64: {exc}") from None


def decrypt(
    blob: bytes,
    derivations: Iterable[Derivation],
    accept: Callable[[bytes], T],
    keys: KeyCache,
) -> tuple[T, Derivation]:
    """The first ``accept(plaintext)`` that does not raise `ValueError`, over `derivations`
    in order, with the derivation that produced it; `CipherError` when none does."""
    if len(blob) < 2 * _BLOCK or blob[:8] != MAGIC or len(blob) % _BLOCK:
        raise CipherError("not an openssl enc ciphertext (Salted__ header, whole AES blocks)")
    salt, body = blob[8:16], blob[16:]
    for derivation in derivations:
        key, iv = keys.get(salt, derivation)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(body) + decryptor.finalize()
        plaintext = _unpad(padded)
        if plaintext is None:
            continue
        try:
            return accept(plaintext), derivation
        except ValueError:
            continue
    raise CipherError("no key derivation decrypts it to an address (wrong secret?)")


def _unpad(padded: bytes) -> bytes | None:
    """PKCS#7 unpadding that reports bad padding as None (cheaper than an exception on the
    path every wrong derivation takes)."""
    pad = padded[-1]
    if not 1 <= pad <= _BLOCK or padded[-pad:] != bytes([pad]) * pad:
        return None
    return padded[:-pad]
