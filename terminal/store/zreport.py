"""The day-close (Z) report: one pure function shared with the server (floreyn/sync/zreport.py)."""

from __future__ import annotations

from floreyn.sync.zreport import z_report

__all__ = ["z_report"]

