"""`init`: the cooperative's card-issuing key, the desk's own admin token, the issuer key at the server.

    floreyn-provision init --server https://floreyn.example --bootstrap-token-file /srv/floreyn-data/admin_token

The server makes one "bootstrap" admin token on its first start and writes
it to admin_token (0600) in its data folder. init uses it (or --token /
$FLOREYN_TOKEN) once to create the desk's own named admin token, which it
keeps in provision.toml (0600); --revoke-bootstrap then retires the
bootstrap token. It adds the issuing key's public half to the server's
`issuer_keys` (PATCH /v1/admin/config), so every terminal's next snapshot
carries it, and pins the server's public key for `terminal enroll`.

Running init again changes nothing that exists: the key is loaded, not
replaced; a working token is kept; the issuer key is added only if missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from floreyn import card as cards
from floreyn import keys
from floreyn.provisioning import keystore, settings
from floreyn.provisioning.api import AdminClient
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import BootstrapTokenMissing, ServerNotGiven, ServerRefused, local
from floreyn.provisioning.output import fields, word


def add_parser(sub: Any) -> None:
    p = sub.add_parser("init", help="create the card-issuing key and the desk's admin token (first run)")
    p.add_argument(
        "--bootstrap-token-file",
        metavar="PATH",
        help="the server's admin_token file (made by floreyn-server on its first start)",
    )
    p.add_argument("--token-name", default="beheer", help="name of the desk's new admin token (default: beheer)")
    p.add_argument(
        "--no-passphrase",
        action="store_true",
        help="keep the issuing key unencrypted (mode 0600) instead of under a passphrase",
    )
    p.add_argument("--passphrase-file", metavar="PATH", help="read the key's passphrase from this file")
    p.add_argument("--cooperative", help="the cooperative's name, printed on welcome slips")
    p.add_argument("--desk-name", help="second line of the welcome slip (default: Ledenbalie)")
    p.add_argument(
        "--reader", metavar="DEVICE", help="the desk's NFC reader: usb, tty:USB0:pn532, ..., or 'none' (no reader)"
    )
    p.add_argument(
        "--printer",
        metavar="SPEC",
        help="slip printer: network:HOST[:PORT], serial:DEVICE, usb:VID:PID, file:PATH, virtual, or 'none'",
    )
    p.add_argument("--revoke-bootstrap", action="store_true", help="revoke the server's bootstrap token afterwards")
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    args, s = ctx.args, ctx.settings
    if not s.server:
        raise ServerNotGiven()
    settings.ensure_home(s.home)
    issuer, issuer_status, encrypted = _issuer_key(args, s)
    _, ntag_created = keystore.load_or_create_ntag_key(s.ntag_key_path)
    server_key = ctx.anonymous_api().health()["server_key"]
    if s.server_key and s.server_key != server_key:
        raise local(
            "the server {server} has another key than at the first init ({server_key}...); is this the right server?",
            server=s.server,
            server_key=s.server_key[:16],
        )
    base: dict[str, Any] = {"server": s.server, "server_key": server_key, "issuer_key_encrypted": encrypted}
    for key in ("cooperative", "desk_name"):
        if getattr(args, key):
            base[key] = getattr(args, key)
    if args.reader:
        base["reader"] = {**s.reader, "device": args.reader}
    if args.printer:
        from floreyn.provisioning.cmd_terminal import printer_spec

        base["printer"] = {} if args.printer == "none" else printer_spec(args.printer)
    token, token_status = _desk_token(ctx, args)
    settings.save(s, {**base, "token": token})  # saved before anything else can fail: the token is shown once
    s.token = token
    ctx._api = AdminClient(s.require_server(), token, timeout_s=s.timeout_s)
    public_hex = keys.public_raw(issuer).hex()
    known = ctx.api.get("/v1/admin/config").get("issuer_keys") or []
    at_server = "present"
    if public_hex not in known:
        ctx.write("config.issuer_keys", "PATCH", "/v1/admin/config", {"issuer_keys": [*known, public_hex]})
        at_server = "added"
    revoked = False
    if args.revoke_bootstrap and args.token_name != "bootstrap":
        revoked = bool(ctx.write("token.revoke", "POST", "/v1/admin/tokens/bootstrap/revoke", {}).get("revoked"))
    data = {
        "home": str(s.home),
        "config": str(s.config_path),
        "server": s.server,
        "server_key": server_key,
        "issuer_key": public_hex,
        "issuer_key_id": keys.key_id(issuer).hex(),
        "issuer_key_fingerprint": cards.fingerprint(issuer.public_key()),
        "issuer_key_file": str(s.issuer_path),
        "issuer_key_encrypted": encrypted,
        "issuer_key_status": issuer_status,
        "ntag_key_status": "created" if ntag_created else "exists",
        "token_name": args.token_name,
        "token_status": token_status,
        "issuer_key_at_server": at_server,
        "bootstrap_revoked": revoked,
    }
    ctx.out.result(
        data,
        lambda: fields(
            [
                ("map", data["home"]),
                ("server", f"{s.server} (sleutel {server_key[:16]}...)"),
                (
                    "uitgiftesleutel",
                    f"{data['issuer_key_fingerprint']} id {data['issuer_key_id']} "
                    f"({'versleuteld' if encrypted else 'onversleuteld, 0600'}; {word(issuer_status)})",
                ),
                ("NTAG-sleutel", word(data["ntag_key_status"])),
                ("beheertoken", f"{args.token_name} ({word(token_status)}), bewaard in {s.config_path}"),
                ("sleutel op server", "toegevoegd" if at_server == "added" else "al aanwezig"),
                ("bootstrap-token", "ingetrokken" if revoked else "niet gewijzigd"),
            ]
        ),
    )
    return 0


def _issuer_key(args: argparse.Namespace, s: settings.Settings) -> tuple[Any, str, bool]:
    path = s.issuer_path
    if path.exists():
        secret = keystore.passphrase(args.passphrase_file, new=False)
        key = keystore.load_issuer(path, secret)
        return key, "exists", b"ENCRYPTED" in path.read_bytes()
    if args.no_passphrase:
        return keystore.create_issuer(path, None), "created", False
    secret = keystore.passphrase(args.passphrase_file, new=True)
    if secret is None:
        raise local(
            "give a passphrase for the issuing key (--passphrase-file, FLOREYN_KEY_PASSPHRASE or at the prompt), or choose --no-passphrase",
        )
    return keystore.create_issuer(path, secret), "created", True


def _desk_token(ctx: Ctx, args: argparse.Namespace) -> tuple[str, str]:
    """(token, "created" | "exists"): keep a working stored token, else make one with the bootstrap token."""
    s = ctx.settings
    stored = s.stored.get("token")
    given = _read_token_file(args.bootstrap_token_file) if args.bootstrap_token_file else s.token
    if isinstance(stored, str) and stored:
        try:  # a working desk token is kept, whatever bootstrap token is still lying around
            AdminClient(s.require_server(), stored, timeout_s=s.timeout_s).get("/v1/admin/config")
            return stored, "exists"
        except ServerRefused:
            pass  # revoked: make a new one below
    if not given or given == stored:
        raise BootstrapTokenMissing()
    ctx._api = AdminClient(s.require_server(), given, timeout_s=s.timeout_s)
    answer = ctx.write("token.create", "POST", "/v1/admin/tokens", {"name": args.token_name, "role": "admin"})
    token = answer.get("token")
    if not isinstance(token, str) or not token:  # the answer to the first attempt was lost; it is shown only once
        ctx.write("token.revoke", "POST", f"/v1/admin/tokens/{args.token_name}/revoke", {})
        raise local(
            "token {token_name} was created but its answer was lost; it has been revoked. Run init again with another --token-name.",
            token_name=args.token_name,
        )
    return token, "created"


def _read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise local("token file {path}: {strerror}", path=path, strerror=exc.strerror) from None
    if not token or len(token) > 200:
        raise local("{path} holds no token", path=path)
    return token
