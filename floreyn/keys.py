"""Ed25519 keys: the terminal's record-signing key, the server's key and the cooperative's card-issuing key.

The project's own two key types, so the rest of the code speaks in raw
32-byte keys and 4-byte key ids (the forms that go on cards, into records and
into config files) and never names a crypto library's classes.

One implementation signs and verifies everywhere: libsodium through PyNaCl.
Why libsodium and not `cryptography`: the till already loads libsodium (its
background chain check, as the server's ingest does, server/verify.py), and
`cryptography` cost the till 6.8 MB of resident memory on the card prompt
(issue 19 goal 5). Ed25519 signatures are deterministic (RFC 8032), so both
libraries give the same bytes for the same key and message
(tests/core/test_keys.py checks the project's vectors with both). libsodium's
verification is the stricter one (it also refuses small-order and
non-canonical public keys and small-order R), so nothing `cryptography`
refused passes here.

`cryptography` is imported only where it is needed, when it is needed: to
write or read a passphrase-encrypted PEM key file (the desk tool's issuing
key) and any PEM this module does not read itself. The unencrypted PKCS#8 PEM
of an Ed25519 key, which the till and the server keep, is a fixed 48-byte DER
structure and is read and written here, byte for byte as `cryptography` does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import nacl.bindings
import nacl.exceptions

KEY_ID_LEN: Final = 4
SIGNATURE_LEN: Final = 64
PUBLIC_KEY_LEN: Final = 32
SEED_LEN: Final = 32

# RFC 8410: PKCS#8 v1 PrivateKeyInfo { version 0, AlgorithmIdentifier id-Ed25519 (1.3.101.112), OCTET STRING {
# OCTET STRING seed } }: these 16 bytes, then the 32-byte seed. What `cryptography` (OpenSSL) writes unencrypted.
_PKCS8_ED25519_PREFIX: Final = bytes.fromhex("302e020100300506032b657004220420")
_PEM_BEGIN: Final = b"-----BEGIN PRIVATE KEY-----"
_PEM_END: Final = b"-----END PRIVATE KEY-----"

# What PyNaCl raises for a signature that does not verify, a public key libsodium refuses, or input of the wrong
# type: each is "does not verify" to the caller.
_NOT_VERIFIED: Final = (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError)


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A raw 32-byte Ed25519 public key. Any 32 bytes are accepted here (as `cryptography` did); a key that is
    not a valid point verifies nothing."""

    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != PUBLIC_KEY_LEN:
            raise ValueError("an Ed25519 public key is 32 bytes")

    def public_bytes_raw(self) -> bytes:
        return self.raw

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """True when `signature` is this key's Ed25519 signature of `message`; never raises for bad input."""
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_LEN or not isinstance(message, bytes):
            return False  # libsodium reads the signature off the front of one buffer: a short one must not shift it
        try:
            nacl.bindings.crypto_sign_open(signature + message, self.raw)
        except _NOT_VERIFIED:
            return False
        return True


class PrivateKey:
    """An Ed25519 private key, held as libsodium's 64-byte secret key (seed, then public key)."""

    __slots__ = ("_public", "_secret")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_LEN:
            raise ValueError("an Ed25519 seed is 32 bytes")
        public, self._secret = nacl.bindings.crypto_sign_seed_keypair(seed)
        self._public = PublicKey(public)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature (libsodium returns signature + message)."""
        return nacl.bindings.crypto_sign(message, self._secret)[:SIGNATURE_LEN]

    def public_key(self) -> PublicKey:
        return self._public

    def private_bytes_raw(self) -> bytes:
        """The 32-byte seed."""
        return self._secret[:SEED_LEN]

    def __repr__(self) -> str:  # never the seed, in a log or a traceback
        return f"PrivateKey(public={self._public.raw.hex()})"


def new_private_key() -> PrivateKey:
    return PrivateKey(os.urandom(SEED_LEN))


def private_from_seed(seed: bytes) -> PrivateKey:
    """A key from its 32-byte seed (test vectors use fixed seeds)."""
    return PrivateKey(seed)


def private_seed(key: PrivateKey) -> bytes:
    return key.private_bytes_raw()


def public_raw(key: PrivateKey | PublicKey) -> bytes:
    return (key.public_key() if isinstance(key, PrivateKey) else key).raw


def public_from_raw(raw: bytes) -> PublicKey:
    """ValueError unless 32 bytes."""
    return PublicKey(bytes(raw) if isinstance(raw, (bytearray, memoryview)) else raw)


def key_id(key: PrivateKey | PublicKey | bytes) -> bytes:
    """First 4 bytes of SHA-256 over the raw public key: names a key on a card without carrying it."""
    raw = key if isinstance(key, bytes) else public_raw(key)
    return hashlib.sha256(raw).digest()[:KEY_ID_LEN]


def verify(public: PublicKey, signature: bytes, message: bytes) -> bool:
    return public.verifies(signature, message)


def private_key_pem(key: PrivateKey) -> bytes:
    """The unencrypted PKCS#8 PEM, the same bytes `cryptography` writes (48 bytes of DER: one base64 line)."""
    der = _PKCS8_ED25519_PREFIX + key.private_bytes_raw()
    return _PEM_BEGIN + b"\n" + base64.b64encode(der) + b"\n" + _PEM_END + b"\n"


def _seed_of_plain_pem(pem: bytes) -> bytes | None:
    """The seed of an unencrypted PKCS#8 Ed25519 PEM; None for anything else (left to `cryptography`)."""
    lines = pem.strip().splitlines()
    if len(lines) < 3 or lines[0].strip() != _PEM_BEGIN or lines[-1].strip() != _PEM_END:
        return None
    try:
        der = base64.b64decode(b"".join(line.strip() for line in lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(der) != len(_PKCS8_ED25519_PREFIX) + SEED_LEN or not der.startswith(_PKCS8_ED25519_PREFIX):
        return None
    return der[len(_PKCS8_ED25519_PREFIX) :]


def save_private_key(key: PrivateKey, path: Path, passphrase: bytes | None = None) -> None:
    """Write a PEM private key readable by its owner only (0600), encrypted when a passphrase is given."""
    pem = _encrypted_pem(key, passphrase) if passphrase else private_key_pem(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_private_key(path: Path, passphrase: bytes | None = None) -> PrivateKey:
    """The key in a PEM file. Errors as `cryptography` gives them: TypeError for an encrypted key without a
    passphrase or a passphrase for a plain key, ValueError for a wrong passphrase or a file that holds no
    Ed25519 key."""
    pem = path.read_bytes()
    seed = _seed_of_plain_pem(pem) if passphrase is None else None
    if seed is None:
        seed = _seed_via_cryptography(pem, passphrase, path)
    return PrivateKey(seed)


class KeyFormatNeedsCryptography(ValueError):
    """A key file in a format only `cryptography` reads or writes, on a machine without it (a till)."""

    def __init__(self, path: Path | None) -> None:
        where = f"{path}: " if path is not None else ""
        super().__init__(f"{where}encrypted or non-plain key files need the 'cryptography' package "
                         "(pip install 'floreyn[server]' or 'floreyn[desk]'); a till reads plain PEM keys only")


def _require_cryptography(path: Path | None) -> None:
    try:
        import cryptography  # noqa: F401  # the server's and the desk's extras bring it; a till has none
    except ImportError:
        raise KeyFormatNeedsCryptography(path) from None


def _encrypted_pem(key: PrivateKey, passphrase: bytes) -> bytes:
    """PKCS#8 encrypted with the best encryption `cryptography` has (the desk tool's issuing key)."""
    _require_cryptography(None)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    theirs = Ed25519PrivateKey.from_private_bytes(key.private_bytes_raw())
    return theirs.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(passphrase))


def _seed_via_cryptography(pem: bytes, passphrase: bytes | None, path: Path) -> bytes:
    _require_cryptography(path)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    theirs = serialization.load_pem_private_key(pem, password=passphrase)
    if not isinstance(theirs, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 key")
    return theirs.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
