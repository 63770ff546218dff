# s2f-desktop — the two commands a person needs are `make run` and `make test`.
# Everything they need is installed from here: Debian packages (apt), then a local
# virtual environment (.venv), then first-run caches.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CACHE_STAMP := $(VENV)/.caches

# Runtime: PortAudio (sounddevice), Qt's xcb/EGL/font deps, poppler (pdftoppm, for report checks
# and previews), Xvfb (screenshots and a window without a display), espeak-ng + Debian's
# asterisk prompts (real and synthetic speech for tests and the demo case), PulseAudio
# (null-sink loopback test of recording).
SYS_PACKAGES := libportaudio2 libsndfile1 libegl1 libgl1 libopengl0 libxkbcommon0 libxkbcommon-x11-0 \
	libfontconfig1 libdbus-1-3 libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-image0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 xvfb xauth poppler-utils \
	espeak-ng asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav fonts-dejavu-core \
	pulseaudio pulseaudio-utils libasound2-plugins

export OMP_NUM_THREADS ?= 1

.PHONY: run test bench screenshots dist train sysdeps venv setup clean

sysdeps:
	@bash scripts/install-sysdeps.sh $(SYS_PACKAGES)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# resemblyzer pins webrtcvad (compiles from source); webrtcvad-wheels provides the module.
	$(BIN)/python -m pip install --quiet --no-deps resemblyzer==0.1.4
	@touch $(STAMP)

venv: sysdeps $(STAMP)

$(CACHE_STAMP): $(STAMP)
	$(BIN)/s2f setup
	@touch $(CACHE_STAMP)

setup: venv $(CACHE_STAMP)

run: setup
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ]; then \
		echo "No display found. Either run the desktop app on a virtual screen:"; \
		echo "    xvfb-run -a $(BIN)/s2f-desktop"; \
		echo "or use the command line (no display needed):"; \
		echo "    $(BIN)/s2f --help"; \
		exit 1; \
	fi
	$(BIN)/s2f-desktop

# Lint and import order (ruff), types (mypy: strict for core, store, services, report; see pyproject),
# then the tests. S2F_REQUIRE_REAL_VOICES: setup installed espeak-ng and the asterisk prompts, so a
# test that cannot find them fails instead of skipping.
test: setup
	$(BIN)/ruff check s2f_desktop tests benchmarks
	$(BIN)/mypy
	QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 S2F_REQUIRE_REAL_VOICES=1 $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m benchmarks $(BENCH_ARGS)

screenshots: setup
	xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python -m s2f_desktop.gui.screenshots docs/screenshots

# Re-train the trait heads and the speaker-consistency threshold from ../shared/data
# (writes models/traits-*/ and models/speaker-consistency-v1/; see their MODEL_CARD.md).
# One thread: BLAS with more threads changes the last bits of the fit, and the committed
# weights are reproduced byte for byte only this way.
DATA ?= ../shared/data
train: setup
	OMP_NUM_THREADS=1 $(BIN)/s2f-train traits --data $(DATA)
	OMP_NUM_THREADS=1 $(BIN)/s2f-train consistency --data $(DATA)

dist: setup
	$(BIN)/pyinstaller --noconfirm --clean installer.spec

clean:
	rm -rf build dist $(VENV)
