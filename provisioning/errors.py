"""What `floreyn-provision` refuses, and the exit code each refusal ends the process with.

Exit codes (the README lists them too; scripts rely on them):

    0  ok
    1  bad input: an argument, an amount, a date or a CSV row; nothing was sent
    2  the server refused (wrong token, unknown member, not enough funds, ...)
    3  the server could not be reached or gave no usable answer; rerunning the
       same command is safe (it reuses its request id and never doubles)
    4  device: no reader, no card, a card that is not blank, a failed write
    5  local setup: no server or token configured, key file missing, wrong
       passphrase, a file that exists already
  130  interrupted (Ctrl-C)

Every refusal is a FloreynError with a Dutch and an English message, like
the rest of Floreyn; `exit_code_of` maps the families the tool meets
(money, card, device) onto the codes above.
"""

from __future__ import annotations

from typing import ClassVar, Final

from floreyn.errors import FloreynError, RemoteRefusal, in_language
from floreyn.refusals import translate

EXIT_OK: Final = 0
EXIT_INPUT: Final = 1
EXIT_REFUSED: Final = 2
EXIT_UNREACHABLE: Final = 3
EXIT_DEVICE: Final = 4
EXIT_LOCAL: Final = 5
EXIT_INTERRUPTED: Final = 130


class ProvisionError(FloreynError):
    code = "provision"
    exit_code: ClassVar[int] = EXIT_INPUT


# -- 1: bad input ------------------------------------------------------------------


class InputInvalid(ProvisionError):
    """One bad value; `problem_nl` / `problem_en` say what is wrong with it."""

    code = "input_invalid"
    msgid = "{field}: {problem}"


class UsageError(ProvisionError):
    code = "usage"
    msgid = "Usage: {detail}"


class NotConfirmed(ProvisionError):
    """A question the desk did not answer "ja" (or a script could not be asked): nothing was done."""

    code = "not_confirmed"
    msgid = "{question} Not confirmed, nothing was done. Give {flag} to do it anyway."


class Ambiguous(ProvisionError):
    """A member, alias or card end that fits more than one card; the candidates are listed."""

    code = "ambiguous"
    msgid = "{what!r} fits {count} cards; choose one:\n{candidates}"


class CsvInvalid(ProvisionError):
    """A CSV file with bad rows: every bad row is listed with its line number; nothing was sent."""

    code = "csv_invalid"
    msgid = "{path}: {count} invalid line(s), nothing was sent:\n{lines}"


# -- 2: the server refused ---------------------------------------------------------


class ServerRefused(RemoteRefusal, ProvisionError):
    code = "server_refused"
    exit_code = EXIT_REFUSED
    msgid = "The server refused ({server_code}): {message}"


class TokenRejected(ServerRefused):
    code = "token_rejected"
    msgid = "The server does not accept the admin token ({server_code}): {message} Check --token or FLOREYN_TOKEN."


# -- 3: the server could not be reached --------------------------------------------


class ServerUnreachable(ProvisionError):
    code = "server_unreachable"
    exit_code = EXIT_UNREACHABLE
    msgid = "The server {url} cannot be reached ({detail}). Run the same command again later; nothing is booked twice."


class ServerTimeout(ServerUnreachable):
    code = "server_timeout"
    msgid = "The server {url} did not answer within {timeout_s} s. Run the same command again; nothing is booked twice."


class ServerBadResponse(ServerUnreachable):
    code = "server_bad_response"
    msgid = "Unreadable answer from {url}: {detail}. Is this a Floreyn server?"


# -- 5: local setup ----------------------------------------------------------------


class LocalSetupError(ProvisionError):
    code = "local_setup"
    exit_code = EXIT_LOCAL
    msgid = "{detail}"


class NotConfigured(LocalSetupError):
    code = "not_configured"
    msgid = "No {what} configured: give {flag} or {env}, or run 'floreyn-provision init' first."


class ServerNotGiven(LocalSetupError):
    """init is where the server is set: it cannot tell the desk to run init first."""

    code = "not_configured"
    msgid = "Give the Floreyn server's address: 'floreyn-provision init --server URL' (or set FLOREYN_SERVER)."


class BootstrapTokenMissing(LocalSetupError):
    code = "not_configured"
    msgid = (
        "init needs an admin token to make this desk's own token: give --bootstrap-token-file "
        "(the file admin_token in the server's data folder) or --token / FLOREYN_TOKEN."
    )


class ReaderNotConfigured(LocalSetupError):
    code = "not_configured"
    msgid = (
        "This desk has no card reader configured{why}: give --reader (e.g. usb) or FLOREYN_READER, "
        "or set one with 'floreyn-provision init --reader usb'."
    )


class WrongPassphrase(LocalSetupError):
    code = "wrong_passphrase"
    msgid = "The passphrase of the card-issuing key {path} is wrong."


class FileExists(LocalSetupError):
    code = "file_exists"
    msgid = "{path} exists already ({detail}). Use --force to replace it."


# The helpers below take one English msgid (a literal: floreyn/refusals.py extracts it from the call, as
# gettext does from _()) and named params; the words in each language come from the refusal catalogs.


def worded_pair(msgid: str, params: dict[str, object]) -> tuple[str, str]:
    """`msgid` from the catalogs filled with `params`, in Dutch and in English (`X_nl` / `X_en` per language)."""
    nl, en = (translate(msgid, lang).format(**in_language(params, lang)) for lang in ("nl", "en"))
    return nl, en


def worded(key: str, msgid: str, /, **params: object) -> dict[str, str]:
    """`{key}_nl` and `{key}_en` for a refusal whose template has `{key}`: `ServerRefused(**worded("message", ...))`."""
    nl, en = worded_pair(msgid, params)
    return {f"{key}_nl": nl, f"{key}_en": en}


def local(msgid: str, /, **params: object) -> LocalSetupError:
    return LocalSetupError(**worded("detail", msgid, **params))


def invalid(field: str, msgid: str, /, **params: object) -> InputInvalid:
    return InputInvalid(field=field, **worded("problem", msgid, **params))


def invalid_from(field: str, refusal: FloreynError) -> InputInvalid:
    """A refusal of another part (money, a device's config) as the problem of one field, in its own words."""
    return InputInvalid(field=field, problem_nl=refusal.message("nl"), problem_en=refusal.message("en"))


def exit_code_of(exc: BaseException) -> int:
    """The process exit code for a refusal (see the module docstring)."""
    from floreyn.card import CardError
    from floreyn.money import MoneyError

    if isinstance(exc, ProvisionError):
        return exc.exit_code
    if isinstance(exc, MoneyError):
        return EXIT_INPUT
    if isinstance(exc, CardError):
        return EXIT_DEVICE
    try:
        from floreyn.terminal.drivers.base import DeviceError
    except ImportError:  # a desk without the terminal extra has no devices to fail
        return EXIT_INPUT
    if isinstance(exc, DeviceError):
        return EXIT_DEVICE
    return EXIT_INPUT
