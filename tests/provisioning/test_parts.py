"""The tool's parts on their own: value parsing, the TOML writer, CSV reading, the journal, exit codes."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest

from floreyn.card import CardDamaged
from floreyn.money import Currency
from floreyn.provisioning import csvin, parse, tomlw
from floreyn.provisioning.errors import (
    EXIT_DEVICE,
    EXIT_INPUT,
    EXIT_LOCAL,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    CsvInvalid,
    InputInvalid,
    ServerRefused,
    ServerTimeout,
    exit_code_of,
    local,
)
from floreyn.provisioning.journal import Journal
from floreyn.terminal.config import KNOWN_CATEGORIES
from floreyn.terminal.drivers.base import ReaderUnavailable


def test_percentages_and_multipliers_are_exact():
    assert [parse.percent_bp(t, "x") for t in ("5", "5%", "2,5 %", "0,01", "100", "0")] == [500, 500, 250, 1, 10_000, 0]
    assert [parse.multiplier_bp(t, "x") for t in ("2", "x2", "1,5", "1.25", "10")] == [
        20_000,
        20_000,
        15_000,
        12_500,
        100_000,
    ]
    for bad in ("0,001", "101", "-1", "vijf", "nan", ""):
        with pytest.raises(InputInvalid):
            parse.percent_bp(bad, "--save-rate")
    for bad in ("0,5", "11", "1,00001", "inf"):
        with pytest.raises(InputInvalid):
            parse.multiplier_bp(bad, "--multiplier")


def test_amounts_dates_ids_cards_and_categories():
    assert parse.money("€ 1.234,50", "--amount", Currency.EUR).cents == 123_450
    assert parse.money("100.000,00", "--amount", Currency.FL).cents == 10_000_000
    with pytest.raises(InputInvalid) as too_big:
        parse.money("100.000,01", "--amount", Currency.FL)
    assert too_big.value.message("nl").startswith("--amount: Bedrag te hoog")
    with pytest.raises(InputInvalid) as wrong:
        parse.money("fl 5", "--amount", Currency.EUR)
    assert "€" in wrong.value.message("nl")
    assert parse.iso_date(" 2025-02-28 ", "d") == "2025-02-28"
    for bad in ("2025-02-30", "2025-2-3", "28-02-2025"):
        with pytest.raises(InputInvalid):
            parse.iso_date(bad, "d")
    assert parse.card_hex("0011 2233-4455 6677 8899 AABB CCDD EEFF") == "00112233445566778899aabbccddeeff"
    with pytest.raises(InputInvalid):
        parse.card_hex("00112233")
    assert parse.categories("Winkel | markt,winkel", "c") == ["markt", "winkel"] and parse.categories(" ", "c") == []
    assert parse.KNOWN_CATEGORIES == KNOWN_CATEGORIES  # what the till accepts, or it refuses its own config


def test_toml_writer_round_trips_and_writes_private_files(tmp_path):
    doc = {
        "top": 'a "quoted" \\ value\nwith ünïcode',
        "n": 3,
        "flag": False,
        "empty": {},
        "terminal": {"terminal_id": "T-1", "issuer_keys": ["ab", "cd"], "columns": 32, "skip": None},
        "operators": [{"name": "Anna", "role": "manager"}, {"name": "Piet", "role": "cashier"}],
    }
    path = tmp_path / "x.toml"
    tomlw.write_toml(path, doc, header="line one\nline two")
    back = tomllib.loads(path.read_text())
    assert (
        back["top"] == doc["top"] and back["terminal"]["issuer_keys"] == ["ab", "cd"] and "skip" not in back["terminal"]
    )
    assert back["operators"][1] == {"name": "Piet", "role": "cashier"} and back["empty"] == {}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(TypeError):
        tomlw.dumps({"rate": 0.5})  # nothing this tool writes is a float


def test_csv_reading_finds_the_delimiter_the_bom_and_every_bad_line(tmp_path):
    columns = {"member_id": ("lidnummer",), "alias": ("roepnaam",)}
    path = tmp_path / "a.csv"
    path.write_bytes('\ufeffLidnummer\tRoepnaam\nm-1\tAnna\n\n\nm-2\t"Bram\nde Vries"\nm-3\tCees\n'.encode())
    f = csvin.read(path, columns)
    assert [(r.line, r.cells["member_id"]) for r in f.rows] == [(2, "m-1"), (5, "m-2"), (7, "m-3")]
    assert f.rows[1].cells["alias"] == "Bram\nde Vries" and not f.checked.problems
    path.write_text("member_id,onbekend\nm-1,x\n")
    with pytest.raises(InputInvalid) as unknown:
        csvin.read(path, columns)
    assert "onbekend" in unknown.value.message("nl") and ":1" in unknown.value.message("nl")
    path.write_text("member_id\n" + "".join(f"m-{i},extra\n" for i in range(60)))
    f = csvin.read(path, columns)
    with pytest.raises(CsvInvalid) as bad:
        f.checked.raise_if_bad()
    assert bad.value.params["count"] == 60 and "... en 10 meer" in bad.value.message("nl")
    path.write_text("")
    with pytest.raises(InputInvalid):
        csvin.read(path, columns)


def test_row_request_ids_depend_on_file_content_and_row(tmp_path):
    columns = {"alias": ()}
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("alias\nAnna\nAnna\n")
    b.write_text("alias\nAnna\nAnna\nBram\n")
    fa, fa2, fb = csvin.read(a, columns), csvin.read(a, columns), csvin.read(b, columns)
    ids = [csvin.row_request_id(fa, "member", r) for r in fa.rows]
    assert ids == [csvin.row_request_id(fa2, "member", r) for r in fa2.rows]  # same file: same ids
    assert ids[0] != ids[1]  # two identical rows are two members
    assert csvin.row_request_id(fb, "member", fb.rows[0]) != ids[0]  # another file: other ids
    assert all(len(i) <= 64 for i in ids)


def test_journal_keeps_an_id_until_done(tmp_path):
    j = Journal(tmp_path / "pending")
    first = j.begin("desk.topup", {"member_id": "m-1", "eur_cents": 500})
    assert not first.resumed and stat.S_IMODE(os.stat(tmp_path / "pending").st_mode) == 0o700
    again = Journal(tmp_path / "pending").begin("desk.topup", {"eur_cents": 500, "member_id": "m-1"})
    assert again.resumed and again.request_id == first.request_id
    other = j.begin("desk.topup", {"member_id": "m-1", "eur_cents": 501})
    assert other.request_id != first.request_id
    j.update(first, card_id="ab")
    assert j.begin("desk.topup", {"member_id": "m-1", "eur_cents": 500}).state == {"card_id": "ab"}
    j.done(first)
    assert not j.begin("desk.topup", {"member_id": "m-1", "eur_cents": 500}).resumed
    (tmp_path / "pending" / f"{other.key}.json").write_text("{broken")
    with pytest.raises(Exception) as broken:
        j.begin("desk.topup", {"member_id": "m-1", "eur_cents": 501})
    assert exit_code_of(broken.value) == EXIT_LOCAL


def test_exit_codes_per_family():
    assert exit_code_of(InputInvalid(field="f", problem_nl="x", problem_en="x")) == EXIT_INPUT
    assert exit_code_of(ServerRefused(server_code="c", status=409, message_nl="m", message_en="m")) == EXIT_REFUSED
    assert exit_code_of(ServerTimeout(url="u", timeout_s=1)) == EXIT_UNREACHABLE
    assert exit_code_of(ReaderUnavailable(hint="h")) == EXIT_DEVICE
    assert exit_code_of(CardDamaged()) == EXIT_DEVICE
    assert exit_code_of(local("{detail}", detail="a")) == EXIT_LOCAL


def test_journal_keeps_no_personal_data_of_members(tmp_path):
    j = Journal(tmp_path / "pending")
    entry = j.begin("member.create", {"alias": "Anna B.", "name": "Anna Bakker", "email": "anna@example.org"})
    text = (tmp_path / "pending" / f"{entry.key}.json").read_text()
    assert "Anna Bakker" not in text and "anna@example.org" not in text and "Anna B." in text
    assert j.begin("member.create", {"alias": "Anna B.", "name": "Anna Bakker", "email": "anna@example.org"}).resumed
    assert not j.begin(
        "member.create", {"alias": "Anna B.", "name": "Anna de Boer", "email": "anna@example.org"}
    ).resumed
