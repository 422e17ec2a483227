"""Make tests/deploy/data/floreyn-0001.db: a server database written by the schema-0001 release.

    .venv/bin/python tests/deploy/make_fixture_0001.py      # at a commit whose Alembic head is 0001

The file is checked in: the upgrade test (test_upgrade.py) must start from what an
older release really wrote, not from what today's code thinks it wrote. It was
made with the code at commit 9ddf731 (Alembic head 0001): a real server over
HTTP, members topped up at the desk, a funder's budget grant, a campaign, a
blocked card, and a terminal that uploaded signed records (spend, save, refund,
void, an offline overspend that flagged its card). The JSON beside it holds the
terminal's (test-only) private key, its chain head and the balances, so the test
can check that nothing was lost and continue the chain after the upgrade.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path

from floreyn import keys
from floreyn.server.db import Database
from floreyn.server.schema import metadata
from floreyn.server.testing import ServerThread, World

HERE = Path(__file__).parent / "data"


def main() -> int:
    HERE.mkdir(exist_ok=True)
    out_db, out_json = HERE / "floreyn-0001.db", HERE / "floreyn-0001.json"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/floreyn.db"
        with ServerThread(url, Path(tmp)) as srv:
            with srv.ctx.db.reader.connect() as conn:  # type: ignore[union-attr]
                head = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
            assert head == "0001", f"run this at a commit whose Alembic head is 0001, not {head}"
            world = World(srv)
            merchant = world.merchant(save_rate_bp=500)
            anna, anna_card = world.member(eur_cents=5_000, alias="Anna")
            bram, bram_card = world.member(eur_cents=2_000, alias="Bram")
            cees, cees_card = world.member(eur_cents=0, alias="Cees")
            funder = world.funder(eur_cents=20_000)
            srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
                {"budget_id": "B-anna-klus", "member_id": anna, "label": "Klusbudget", "categories": ["winkel"],
                 "expires_on": "2099-12-31", "amount_cents": 2_500}]})
            srv.admin("POST", "/v1/admin/campaigns", {"campaign_id": "zomer", "name": "Zomermarkt: dubbel sparen",
                                                      "multiplier_bp": 20_000, "starts_on": "2024-06-01",
                                                      "ends_on": "2099-08-31"})
            term = world.terminal(merchant)
            s1 = term.spend(anna_card, 1_250)
            term.save(bram_card, 122, 2_450)
            term.spend(anna_card, 700, budget_id="B-anna-klus")
            term.refund(anna_card, 250, s1)
            s5 = term.spend(bram_card, 300)
            term.void(s5)
            term.spend(cees_card, 1_500)  # offline overspend: cees has nothing; flags the card
            client = term.client(srv)
            ack = client.upload(term.raws)
            assert ack.acked_seq == len(term.records), ack
            srv.admin("POST", f"/v1/admin/cards/{bram_card}/block", {"reason": "kwijt"})
            srv.admin("POST", "/v1/admin/tokens", {"name": "auditor-1", "role": "auditor"})
            balances = {key: world.balance(key) for key in (
                f"member:{anna}", f"member:{bram}", f"member:{cees}", "budget:B-anna-klus",
                f"merchant:{merchant}", f"funder:{funder}", "coop:issued", "coop:reserve")}
            facts = {
                "made_at_commit": "9ddf731", "alembic_revision": head,
                "terminal_id": term.terminal_id, "merchant_id": merchant,
                "terminal_private_seed_hex": keys.private_seed(term.key).hex(),
                "head_seq": term.head.seq, "head_hash_hex": term.head.hash.hex(),
                "cards": {"anna": anna_card, "bram": bram_card, "cees": cees_card},
                "members": {"anna": anna, "bram": bram, "cees": cees}, "funder_id": funder,
                "balances": balances,
            }
        db = Database(url)
        with db.reader.connect() as conn:
            facts["row_counts"] = {t.name: conn.exec_driver_sql(f"SELECT count(*) FROM {t.name}").scalar_one()
                                   for t in metadata.sorted_tables}
        db.dispose()
        out_db.unlink(missing_ok=True)
        src = sqlite3.connect(f"{tmp}/floreyn.db")
        src.execute("VACUUM INTO ?", (str(out_db),))  # one self-contained file, no -wal beside it
        src.close()
    out_json.write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out_db} ({out_db.stat().st_size} bytes) and {out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
