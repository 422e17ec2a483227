"""The till app's tests: make tests/terminal/app importable (for till_ui.py, the shared UI test base)."""
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
