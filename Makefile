# Build and test entry points (GNU make). `make test` works on a fresh Debian 12,
# Ubuntu or Raspberry Pi OS that has only python3 >= 3.11: it installs the missing
# system packages, makes .venv, installs the project into it, then runs pytest.
# Every target is idempotent; a second `make test` only re-runs pytest.
#
#   make test [PYTEST_ARGS='-k money -x']   FLOREYN_TEST_PG_URL from the environment
#   make lint                               ruff and mypy (make test runs it first)
#   make demo [DEMO_ARGS='--panel 1024x600'] | bench [BENCH_ARGS=--quick or '--setting middle'] | clean | distclean

SHELL := /bin/bash
.DEFAULT_GOAL := test
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Touched after `pip install -e`; newer than pyproject.toml = the install is current.
STAMP := $(VENV)/.floreyn-installed
EXTRAS := terminal,server,desk,dev
PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the tests need at run time (Debian 12 names; the same on Ubuntu
# and Raspberry Pi OS). The Kivy wheel bundles SDL2 itself; the UI tests draw with
# SDL's offscreen driver through Mesa's EGL and llvmpipe, so no X server is needed
# (why: tests/support/kivy_env.py).
APT_PACKAGES := libgl1             # libGL.so.1: Kivy calls desktop OpenGL through it
APT_PACKAGES += libegl1            # libEGL.so.1: SDL's offscreen driver makes its GL context with EGL
APT_PACKAGES += libegl-mesa0       # Mesa's EGL implementation (libegl1 only recommends it)
APT_PACKAGES += libgl1-mesa-dri    # swrast_dri.so: llvmpipe, the software renderer
APT_PACKAGES += libmtdev1          # Kivy's mtdev input provider (the Pi touchscreen) loads it on import
APT_PACKAGES += libusb-1.0-0       # nfcpy reaches USB NFC readers through libusb
APT_PACKAGES += fonts-dejavu-core  # a system font with the euro sign, for text drawn with Pillow
APT_PACKAGES += shellcheck         # tests/deploy lints the install scripts (deploy/install-*.sh)
APT_PACKAGES += logrotate          # tests/deploy checks deploy/common/logrotate-floreyn with logrotate -d
APT_PACKAGES += chromium           # the portal's tests drive it with Playwright (no browser download)
# Added only when missing: systemd (for `systemd-analyze verify` of our unit files,
# if there is no systemd-analyze) and python3-venv (Debian splits venv/ensurepip out).

.PHONY: test lint sysdeps venv demo bench clean distclean

test: sysdeps $(STAMP) lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Settings in pyproject.toml ([tool.ruff], [tool.mypy]: strict for the core, sync,
# the ledger and the till's engine and store).
lint: sysdeps $(STAMP)
	$(PY) -m ruff check --quiet .
	$(PY) -m mypy

# dpkg-query (with Provides, so renamed packages such as Ubuntu's *t64 count) is
# fast, so this runs every time; apt-get runs only when something is missing.
sysdeps:
	@command -v dpkg-query >/dev/null || { echo "sysdeps: no dpkg; install the equivalents of: $(strip $(APT_PACKAGES))" >&2; exit 0; }; \
	want="$(strip $(APT_PACKAGES))"; \
	command -v systemd-analyze >/dev/null || want="$$want systemd"; \
	[ -x $(PY) ] || $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || want="$$want python3-venv"; \
	have=$$(dpkg-query -W -f='$${db:Status-Abbrev}|$${Package}|$${Provides}\n' | \
	  awk -F'|' '$$1 ~ /^ii/ { print $$2; n = split($$3, p, ", "); for (i = 1; i <= n; i++) { split(p[i], q, " "); print q[1] } }'); \
	missing=$$(for p in $$want; do grep -qxF "$$p" <<<"$$have" || echo "$$p"; done | xargs); \
	[ -z "$$missing" ] && exit 0; \
	echo "sysdeps: installing $$missing"; \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing

venv: $(STAMP)

$(PY): | sysdeps
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "need Python >= 3.11; $(PYTHON) is $$($(PYTHON) -V); try: make PYTHON=python3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

demo: sysdeps $(STAMP)
	$(PY) -m floreyn.demo $(DEMO_ARGS)

bench: sysdeps $(STAMP)
	FLOREYN_BENCH_VIA_MAKE=1 $(PY) bench/run_all.py $(BENCH_ARGS)

# Generated files; the venv stays (distclean removes it too).
clean:
	rm -rf tests/artifacts bench/results run .pytest_cache .hypothesis .mypy_cache .ruff_cache *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
