"""Keys: signatures through libsodium byte for byte as `cryptography` makes them, key files written 0600 (encrypted
with a passphrase when given) and loaded back identical, malformed keys and signatures refused."""

from __future__ import annotations

import json
import stat
import sys
import tomllib
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from floreyn import card, keys
from floreyn.sync import record as rec


def test_key_file_round_trip_is_private(tmp_path: Path) -> None:
    key = keys.new_private_key()
    path = tmp_path / "k" / "issuer.pem"
    keys.save_private_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.private_seed(keys.load_private_key(path)) == keys.private_seed(key)


def test_passphrase_protects_the_key(tmp_path: Path) -> None:
    key = keys.new_private_key()
    path = tmp_path / "issuer.pem"
    keys.save_private_key(key, path, passphrase=b"gras groeit")
    assert b"ENCRYPTED" in path.read_bytes()
    with pytest.raises((TypeError, ValueError)):
        keys.load_private_key(path)
    with pytest.raises(ValueError):
        keys.load_private_key(path, passphrase=b"verkeerd")
    assert keys.public_raw(keys.load_private_key(path, b"gras groeit")) == keys.public_raw(key)


def test_key_id_is_stable_and_short() -> None:
    key = keys.private_from_seed(bytes(32))
    assert keys.key_id(key) == keys.key_id(keys.public_raw(key)) == keys.key_id(key.public_key())
    assert len(keys.key_id(key)) == 4
    with pytest.raises(ValueError):
        keys.private_from_seed(b"short")


# -- one implementation (libsodium), the same bytes as `cryptography` -----------------------------------------
# Ed25519 is deterministic (RFC 8032): for one seed and one message both libraries must give the same signature,
# and each must accept the other's. The project's checked-in vectors are the messages and seeds.

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "vectors_v1.json").read_text())


def _vector_cases() -> list[object]:
    """(seed, signed message, signature) for every record and card vector."""
    records, cards = VECTORS["record_v1"], VECTORS["card_v1"]
    out = [pytest.param(bytes.fromhex(records["terminal_seed_hex"]), rec.SIG_DOMAIN + bytes.fromhex(v["body_hex"]),
                        bytes.fromhex(v["signature_hex"]), id=f"record-{v['seq']}") for v in records["records"]]
    for i, v in enumerate(cards["cards"], start=1):
        payload = bytes.fromhex(v["payload_hex"])
        out.append(pytest.param(bytes.fromhex(cards["issuer_seed_hex"]), card.SIG_DOMAIN + payload[: -keys.SIGNATURE_LEN],
                                payload[-keys.SIGNATURE_LEN :], id=f"card-{i}"))
    return out


@pytest.mark.parametrize("seed, message, signature", _vector_cases())
def test_libsodium_and_cryptography_sign_and_verify_the_vectors_alike(seed: bytes, message: bytes,
                                                                      signature: bytes) -> None:
    ours, theirs = keys.private_from_seed(seed), Ed25519PrivateKey.from_private_bytes(seed)
    assert ours.public_key().raw == theirs.public_key().public_bytes_raw()
    assert ours.sign(message) == theirs.sign(message) == signature
    theirs.public_key().verify(signature, message)  # raises if not
    assert keys.verify(ours.public_key(), signature, message)
    altered = message[:-1] + bytes([message[-1] ^ 1])
    assert not keys.verify(ours.public_key(), signature, altered)
    with pytest.raises(InvalidSignature):
        theirs.public_key().verify(signature, altered)


def test_plain_key_files_are_cryptography_s_bytes_both_ways(tmp_path: Path) -> None:
    """The till's and the server's key files (unencrypted PKCS#8 PEM) are read and written without
    `cryptography`, in its exact format: files written before this change load, and it loads ours."""
    seed = bytes(range(32))
    theirs = Ed25519PrivateKey.from_private_bytes(seed)
    pem = theirs.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    path = tmp_path / "terminal.key"
    keys.save_private_key(keys.private_from_seed(seed), path)
    assert path.read_bytes() == pem
    (tmp_path / "old.key").write_bytes(pem)
    assert keys.private_seed(keys.load_private_key(tmp_path / "old.key")) == seed
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, Ed25519PrivateKey) and loaded.public_key() == theirs.public_key()


def test_key_files_that_are_not_plain_ed25519_keep_their_errors(tmp_path: Path) -> None:
    """Anything else goes through `cryptography` as before, with its errors (provisioning/keystore.py reads them)."""
    path = tmp_path / "issuer.pem"
    keys.save_private_key(keys.new_private_key(), path)
    with pytest.raises(TypeError):  # a passphrase for a plain key
        keys.load_private_key(path, passphrase=b"gras groeit")
    ec = ec_key_pem()
    (tmp_path / "ec.pem").write_bytes(ec)
    with pytest.raises(ValueError, match="does not hold an Ed25519 key"):
        keys.load_private_key(tmp_path / "ec.pem")
    (tmp_path / "junk.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ValueError):
        keys.load_private_key(tmp_path / "junk.pem")


def test_a_till_without_cryptography_reads_plain_keys_and_says_what_the_others_need(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`cryptography` is in the server's and the desk's extras only (pyproject.toml): a till reads its plain
    key, and a key file only `cryptography` reads is a clear refusal there, not an ImportError."""
    plain, encrypted = tmp_path / "till.key", tmp_path / "issuer.pem"
    key = keys.new_private_key()
    keys.save_private_key(key, plain)
    keys.save_private_key(key, encrypted, passphrase=b"gras groeit")
    monkeypatch.setitem(sys.modules, "cryptography", None)  # `import cryptography` raises ImportError now
    assert keys.private_seed(keys.load_private_key(plain)) == keys.private_seed(key)
    with pytest.raises(keys.KeyFormatNeedsCryptography, match="issuer.pem: .*floreyn\\[server\\]"):
        keys.load_private_key(encrypted, passphrase=b"gras groeit")
    with pytest.raises(keys.KeyFormatNeedsCryptography):
        keys.save_private_key(key, tmp_path / "other.pem", passphrase=b"x")


def test_cryptography_is_no_core_dependency() -> None:
    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    named = {extra: [d.split(">")[0].split("[")[0] for d in deps]
             for extra, deps in {"core": project["dependencies"], **project["optional-dependencies"]}.items()}
    assert "cryptography" not in named["core"] and "cryptography" not in named["terminal"]
    assert "cryptography" in named["server"] and "cryptography" in named["desk"]


def ec_key_pem() -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def test_malformed_keys_and_signatures_are_refused_without_raising() -> None:
    key = keys.private_from_seed(bytes(32))
    message = b"floreyn"
    signature = key.sign(message)
    for raw in (b"", bytes(31), bytes(33)):
        with pytest.raises(ValueError):
            keys.public_from_raw(raw)
    public = key.public_key()
    for bad in (b"", signature[:-1], signature + b"\x00", bytes(64), signature[:32] + bytes(32)):
        assert not keys.verify(public, bad, message)
    # libsodium is the stricter library: a small-order public key (here the all-zero encoding) with an all-zero
    # signature verifies any message under `cryptography` (OpenSSL); here it verifies nothing.
    small_order = keys.public_from_raw(bytes(32))
    Ed25519PublicKey.from_public_bytes(bytes(32)).verify(bytes(64), message)
    assert not keys.verify(small_order, bytes(64), message)
    assert not keys.verify(keys.public_from_raw(b"\xff" * 32), signature, message)  # not a point at all
    assert keys.public_from_raw(bytearray(public.raw)) == public


def test_a_private_key_never_shows_its_seed() -> None:
    key = keys.private_from_seed(bytes(range(32)))
    assert bytes(range(32)).hex() not in repr(key) and key.public_key().raw.hex() in repr(key)
