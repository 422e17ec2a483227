"""Floreyn: the sync role, imported as floreyn.sync (floreyn/sync links to this folder)."""

# The repository root is on sys.path for `python -m ...` run from a checkout (and for
# the editable install), which would let `import sync` load every module a second time
# under another name: two copies of each class, so isinstance and `is` checks between
# them fail. Refuse the bare name outright.
if __name__ != "floreyn.sync":
    raise ImportError(f"import this folder as floreyn.sync, not as {__name__} (see docs/architecture.md)")
