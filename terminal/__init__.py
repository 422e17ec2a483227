"""Floreyn: the terminal role, imported as floreyn.terminal (floreyn/terminal links to this folder)."""

# The repository root is on sys.path for `python -m ...` run from a checkout (and for
# the editable install), which would let `import terminal` load every module a second time
# under another name: two copies of each class, so isinstance and `is` checks between
# them fail. Refuse the bare name outright.
if __name__ != "floreyn.terminal":
    raise ImportError(f"import this folder as floreyn.terminal, not as {__name__} (see docs/architecture.md)")
