"""Floreyn: the provisioning role, imported as floreyn.provisioning (floreyn/provisioning links to this folder)."""

# The repository root is on sys.path for `python -m ...` run from a checkout (and for
# the editable install), which would let `import provisioning` load every module a second time
# under another name: two copies of each class, so isinstance and `is` checks between
# them fail. Refuse the bare name outright.
if __name__ != "floreyn.provisioning":
    raise ImportError(f"import this folder as floreyn.provisioning, not as {__name__} (see docs/architecture.md)")
