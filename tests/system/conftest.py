"""System tests: real processes (floreyn-server, three scripted tills) over loopback HTTP.

Makes this folder importable (system_helpers, clock_jump). The database comes
from the shared `db_url` fixture (tests/conftest.py): SQLite always, plus
PostgreSQL when FLOREYN_TEST_PG_URL is set.
"""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
