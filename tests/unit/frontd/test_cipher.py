"""OpenSSL enc compatible AES-256-CBC: the reference vector, round trips for every key
derivation, and what a wrong secret, a tampered or malformed ciphertext gets."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontier.frontd.address import parse_backend
from frontier.frontd.cipher import (
    DERIVATIONS,
    CipherError,
    Derivation,
    KeyCache,
    decode_line,
    decrypt,
    derive,
    encrypt,
    encrypt_line,
)

REFERENCE_SECRET = b"p0S8rX680*48"
REFERENCE_LINE = b"U2FsdGVkX19KIJ9OQJKT/yHGMrS+5SsBAAjetomptQ0="


def _decrypt(line: bytes, secret: bytes, derivations: tuple[Derivation, ...] = DERIVATIONS):
    return decrypt(decode_line(line), derivations, parse_backend, KeyCache(secret))


def test_the_reference_vector_decrypts_with_md5() -> None:
    backend, derivation = _decrypt(REFERENCE_LINE, REFERENCE_SECRET)
    assert str(backend) == "127.0.0.1:62863"
    assert derivation == "md5"


def test_the_reference_vector_is_refused_without_md5() -> None:
    with pytest.raises(CipherError):
        _decrypt(REFERENCE_LINE, REFERENCE_SECRET, ("sha256", "pbkdf2"))


@pytest.mark.parametrize("derivation", DERIVATIONS)
def test_each_derivation_round_trips_and_is_found(derivation: Derivation) -> None:
    line = encrypt_line(b"s3cret", b"10.0.0.7:8080", derivation)
    backend, found = _decrypt(line.encode(), b"s3cret")
    assert (str(backend), found) == ("10.0.0.7:8080", derivation)


def test_a_wrong_secret_is_a_cipher_error() -> None:
    line = encrypt_line(b"right", b"10.0.0.7:8080", "md5")
    with pytest.raises(CipherError):
        _decrypt(line.encode(), b"wrong")


def test_the_format_is_openssls() -> None:
    blob = encrypt(b"k", b"1.2.3.4:5", "md5", salt=b"\x01" * 8)
    assert blob[:8] == b"Salted__"
    assert blob[8:16] == b"\x01" * 8
    assert len(blob) == 32  # 9 bytes padded to one block


# What `openssl enc -aes-256-cbc -k 'p0S8rX680*48' -S 4a209f4e409293ff -P` prints with
# -md md5, -md sha256 and -pbkdf2 (OpenSSL 3.0); tests/integration/frontd checks the live
# openssl command against `derive` for random secrets and salts.
KNOWN_ANSWERS = {
    "md5": (
        "15F71AFD9E93B7E1FC58D1C5CD7FDEA0170AE50BF18BEC8FEF65DC5A53C74B3D",
        "A001C4164F5E2778981B05BC3D1F28E4",
    ),
    "sha256": (
        "1A9C264F43A3EF9A689FB4C2F42D43567E809697F665959550D6FEAEF8B3B84A",
        "357AC0F3D356447AC8F91399CBC6C7FE",
    ),
    "pbkdf2": (
        "5632AF291CE4F78C7935F4118C6F104611249C5302DC7A5E6028F6D955C2134A",
        "F008E2621C0632FD8520C79C9C66AB7E",
    ),
}


@pytest.mark.parametrize("derivation", sorted(KNOWN_ANSWERS))
def test_derive_matches_openssls_known_answer(derivation: Derivation) -> None:
    salt = base64.b64decode(REFERENCE_LINE)[8:16]
    assert salt.hex() == "4a209f4e409293ff"
    key, iv = derive(REFERENCE_SECRET, salt, derivation)
    assert (key.hex().upper(), iv.hex().upper()) == KNOWN_ANSWERS[derivation]


@pytest.mark.parametrize(
    "line",
    [
        b"not base64!",
        b"U2FsdGVkX19KIJ9OQJKT/yHGMrS+5SsBAAjetomptQ0",  # padding missing
        b"U2Fs dGVk",
    ],
)
def test_bad_base64_is_refused(line: bytes) -> None:
    with pytest.raises(CipherError, match="base64"):
        decode_line(line)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"Salted__12345678",  # no ciphertext
        b"Salted__12345678" + b"x" * 15,  # not whole blocks
        b"NotSalt_12345678" + b"x" * 16,
    ],
)
def test_malformed_ciphertexts_are_refused(blob: bytes) -> None:
    with pytest.raises(CipherError):
        decrypt(blob, DERIVATIONS, parse_backend, KeyCache(b"k"))


def test_a_plaintext_that_is_no_address_is_refused() -> None:
    blob = encrypt(b"k", b"hello world", "md5")
    with pytest.raises(CipherError):
        decrypt(blob, DERIVATIONS, parse_backend, KeyCache(b"k"))


def test_the_key_cache_derives_once_per_salt_and_stays_bounded() -> None:
    cache = KeyCache(b"k", capacity=2)
    first = cache.get(b"a" * 8, "pbkdf2")
    assert cache.get(b"a" * 8, "pbkdf2") is first
    cache.get(b"b" * 8, "pbkdf2")
    cache.get(b"c" * 8, "pbkdf2")
    assert len(cache._entries) == 2
    assert cache.get(b"a" * 8, "pbkdf2") is not first  # evicted, derived again
    assert cache.get(b"a" * 8, "pbkdf2") == first


@settings(max_examples=60, deadline=None)
@given(
    secret=st.binary(min_size=1, max_size=64),
    plaintext=st.binary(max_size=300),
    derivation=st.sampled_from(["md5", "sha256"]),
    salt=st.binary(min_size=8, max_size=8),
)
def test_any_plaintext_round_trips(
    secret: bytes, plaintext: bytes, derivation: Derivation, salt: bytes
) -> None:
    blob = encrypt(secret, plaintext, derivation, salt=salt)
    got, found = decrypt(blob, (derivation,), lambda p: p, KeyCache(secret))
    assert (got, found) == (plaintext, derivation)


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=200))
def test_arbitrary_bytes_only_ever_give_a_cipher_error(blob: bytes) -> None:
    with contextlib.suppress(CipherError):
        decrypt(blob, ("md5", "sha256"), parse_backend, KeyCache(b"k"))


@settings(max_examples=100, deadline=None)
@given(flip=st.integers(min_value=16, max_value=31), bit=st.integers(0, 7))
def test_a_tampered_ciphertext_never_decrypts_to_another_address(flip: int, bit: int) -> None:
    blob = bytearray(encrypt(b"k", b"10.0.0.1:80", "md5", salt=b"s" * 8))
    blob[flip] ^= 1 << bit
    try:
        backend, _ = decrypt(bytes(blob), ("md5",), parse_backend, KeyCache(b"k"))
    except CipherError:
        return
    assert str(backend) == "10.0.0.1:80"
