"""The portal's gettext catalogs match its templates and code, and every page text has a Dutch translation."""

from floreyn.server.portal import catalogs, web


def test_catalogs_are_complete_and_compiled():
    assert catalogs.problems() == []


def test_dutch_is_the_default_and_english_reads_the_msgid():
    assert web._("nl", "Sign in") == "Aanmelden"
    assert web._("en", "Sign in") == "Sign in"
    assert web._("nl", "Pay {amount}", amount="fl 1,00") == "Betaal fl 1,00"
