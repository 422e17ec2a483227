"""The till's base refusal and those its lowest layers raise: the store, the clock and terminal.toml.

They live below the engine so that floreyn.terminal.store and floreyn.terminal.config
load without it (tests/test_ladder.py); floreyn.terminal.engine.errors re-exports them
beside every other refusal, so the app still finds the whole tree in one place.
"""

from __future__ import annotations

from floreyn.errors import FloreynError


class TillError(FloreynError):
    code = "till"


class ClientRefConflict(TillError):
    code = "exists_with_different_content"
    msgid = "Request {ref} was already carried out with different content."


class ConfigError(TillError):
    code = "config_invalid"
    msgid = "Invalid setting in terminal.toml: {detail}"


class UnknownCategory(ConfigError):
    code = "category_unknown"
    msgid = "Invalid merchant category {category!r}: lowercase letters, digits, - or _, with at most one / " \
         "(like klussen/vakman); for example {known}."


class StoreLocked(TillError):
    code = "store_locked"
    msgid = "Another till process is already using this data folder ({path})."


class StoreCorrupt(TillError):
    code = "store_corrupt"
    msgid = "The till's store is damaged: {detail}. Contact the cooperative."
