"""A till refusal with several causes words each cause through the refusal catalogs (REASONS)."""

from __future__ import annotations


def test_a_refusals_reasons_are_translated():
    from floreyn.terminal.engine.errors import NothingToVoid, OnlineDeclined
    assert NothingToVoid(why="day_closed").message("nl") == "Er is geen transactie om te storneren: de dag is al afgesloten."
    assert NothingToVoid(why="day_closed").message("en") == "There is no transaction to void: the day is closed."
    assert OnlineDeclined(server_reason="newer_code").message("nl") == "De server weigert deze betaling: newer_code"
    assert OnlineDeclined(server_reason="").params["reason"] == "geweigerd"
