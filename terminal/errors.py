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
    nl = "Opdracht {ref} is al uitgevoerd met andere gegevens."
    en = "Request {ref} was already carried out with different content."


class ConfigError(TillError):
    code = "config_invalid"
    nl = "Ongeldige instelling in terminal.toml: {detail}"
    en = "Invalid setting in terminal.toml: {detail}"


class UnknownCategory(ConfigError):
    code = "category_unknown"
    nl = "Onbekende winkelcategorie {category!r}; kies uit {known}."
    en = "Unknown merchant category {category!r}; choose from {known}."


class StoreLocked(TillError):
    code = "store_locked"
    nl = "Een andere kassa gebruikt deze gegevensmap al ({path})."
    en = "Another till process is already using this data folder ({path})."


class StoreCorrupt(TillError):
    code = "store_corrupt"
    nl = "De kassagegevens zijn beschadigd: {detail}. Neem contact op met de coöperatie."
    en = "The till's store is damaged: {detail}. Contact the cooperative."
