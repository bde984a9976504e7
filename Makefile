# FlowSynth quick start:
#   make app    set up, then launch the app (its options: make app ARGS='--no-midi')
#   make test   set up, then run the tests (extra pytest args: make test PYTEST_ARGS='-k jack -x')
#
# Set-up: Debian libraries the app needs (installed with apt-get when root and
# missing), a Python 3.11 virtual environment in .venv, and `pip install -e '.[dev]'`,
# re-run only when pyproject.toml is newer than the stamp in .venv.

SHELL := /bin/bash

PYTHON ?= python3.11
VENV := .venv
VENV_PY := $(VENV)/bin/python
STAMP := $(VENV)/.flowsynth-installed
PYTEST_ARGS ?=
ARGS ?=
# When set, `make test` writes pytest's own exit status there (.ci/run uses it:
# make itself exits 2 whatever pytest's status was).
PYTEST_EXIT_FILE ?=

# Audio (PortAudio for sounddevice, libsndfile for soundfile), what the PySide6 wheel's
# QtCore/QtGui/QtWidgets and its offscreen platform plugin link against, and what its xcb
# plugin (the real window on X11) needs beyond them.
SYSTEM_PACKAGES := libportaudio2 libsndfile1 \
	libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
	libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0

.PHONY: app test setup system-deps

app: setup
	$(VENV_PY) main.py $(ARGS)

test: setup
	@echo "QT_QPA_PLATFORM=offscreen $(VENV_PY) -m pytest $(PYTEST_ARGS)"
	@QT_QPA_PLATFORM=offscreen $(VENV_PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	$(if $(PYTEST_EXIT_FILE),echo $$rc > '$(PYTEST_EXIT_FILE)';) exit $$rc

setup: system-deps $(STAMP)

system-deps:
	@bash scripts/ensure-debian-packages $(SYSTEM_PACKAGES)

$(VENV_PY):
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found on PATH (FlowSynth needs Python 3.11)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV_PY)
	$(VENV_PY) -m pip install -e '.[dev]'
	@touch $@
