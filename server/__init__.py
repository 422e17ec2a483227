"""Floreyn: the server role, imported as floreyn.server (floreyn/server links to this folder)."""

# The repository root is on sys.path for `python -m ...` run from a checkout (and for
# the editable install), which would let `import server` load every module a second time
# under another name: two copies of each class, so isinstance and `is` checks between
# them fail. Refuse the bare name outright.
if __name__ != "floreyn.server":
    raise ImportError(f"import this folder as floreyn.server, not as {__name__} (see docs/architecture.md)")
