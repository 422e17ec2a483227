"""The server's refusals: each a FloreynError with the HTTP status it is answered with.

Refusals from the shared code (records, money, auth) carry no status; the
API maps them by family in `status_of`.
"""

from __future__ import annotations

from typing import ClassVar

from floreyn.codec import DecodeError
from floreyn.errors import FloreynError
from floreyn.money import MoneyError
from floreyn.sync import auth
from floreyn.sync.record import RecordError


class ServerError(FloreynError):
    status: ClassVar[int] = 400
    code = "server_refused"


class RequestInvalid(ServerError):
    status = 422
    code = "request_invalid"
    msgid = "Invalid request: {detail}."


class RequestTooLarge(ServerError):
    status = 413
    code = "request_too_large"
    msgid = "The request is too large (at most {max_bytes} bytes)."


class NotFound(ServerError):
    status = 404
    code = "not_found"
    msgid = "{what} {id} does not exist."


class RouteNotFound(ServerError):
    status = 404
    code = "route_not_found"
    msgid = "No such endpoint {path}."


class MethodNotAllowed(ServerError):
    status = 405
    code = "method_not_allowed"
    msgid = "Method {method} is not allowed here."


class Conflict(ServerError):
    status = 409
    code = "conflict"
    msgid = "Conflict: {detail}."


class ExistsWithDifferentParams(Conflict):
    """A retry whose request id (or natural key) was used before for something else."""

    code = "exists_with_different_params"
    msgid = "{what} {id} already exists with different parameters."


class InsufficientFunds(Conflict):
    code = "insufficient_funds"
    msgid = "Insufficient funds: {available} available, {wanted} needed."


class HoldConsumed(Conflict):
    """A release asked for an authorization whose spend record has already been posted."""

    code = "hold_consumed"
    msgid = "Authorization {id} was already consumed by a posted payment and can no longer be released."


class StateRefused(Conflict):
    code = "state_refused"
    msgid = "Not possible: {detail}."


class AdminUnauthorized(ServerError):
    status = 401
    code = "admin_unauthorized"
    msgid = "No valid admin token."


class AdminForbidden(ServerError):
    status = 403
    code = "admin_forbidden"
    msgid = "Role {role} may not do this."


class TerminalRevoked(ServerError):
    status = 403
    code = "terminal_revoked"
    msgid = "This terminal has been revoked."


class TerminalQuarantined(ServerError):
    status = 403
    code = "terminal_quarantined"
    msgid = "This terminal is quarantined after conflicting records; contact the cooperative."


class TerminalForked(TerminalQuarantined):
    status = 409
    code = "terminal_forked"
    msgid = "Two different records with sequence number {seq}: the terminal is quarantined."


class TerminalBrokeRule(TerminalQuarantined):
    """An upload held a record only a tampered or buggy till makes (server/rules.py). The batch is stored and
    posted within the rules (acked_seq); the terminal is quarantined from now on."""

    status = 409
    code = "terminal_broke_rule"
    msgid = "This terminal made a record the rules do not allow ({rule}): it is quarantined; contact the cooperative."


class RecordRefused(ServerError):
    status = 422
    code = "record_refused"
    msgid = "Record {seq} refused: {detail}."


class BatchTooLarge(ServerError):
    status = 413
    code = "batch_too_large"
    msgid = "Too many records in one batch (at most {max})."


class TooManyFailedAuth(ServerError):
    """This client address failed to authenticate too often in a short time (server/throttle.py)."""

    status = 429
    code = "too_many_failed_auth"
    msgid = "Too many failed authentications from this address; retry in {retry_after_s} seconds."


class Busy(ServerError):
    status = 503
    code = "busy"
    msgid = "The server is busy; retry shortly."


def status_of(exc: FloreynError) -> int:
    """The HTTP status a refusal is answered with."""
    if isinstance(exc, ServerError):
        return exc.status
    if isinstance(exc, auth.AuthError):
        return 401
    if isinstance(exc, (RecordError, DecodeError, MoneyError)):
        return 422
    return 400
