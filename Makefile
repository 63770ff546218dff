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

# One version source: s2f_desktop/__init__.py (pyproject.toml reads it too).
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' s2f_desktop/__init__.py)
# Runtime requirements pip cannot express: resemblyzer pins `webrtcvad` (compiles from
# source); `webrtcvad-wheels` (a declared dependency) provides the same module, so
# resemblyzer is installed without its requirements.
NODEPS := resemblyzer==0.1.4
WHEEL := dist/s2f_desktop-$(VERSION)-py3-none-any.whl
# Runtime-only environment the bundle is frozen from (no test/train packages in the product).
RUNTIME_VENV ?= build/runtime-venv
# TORCH=cpu: build the bundle with PyTorch's CPU wheels (no NVIDIA libraries); needs
# https://download.pytorch.org/whl/cpu (or a mirror) reachable. Default: the CUDA build from PyPI.
TORCH ?= cuda
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
DIST_CHECK_VENV ?= build/dist-check-venv
PREFIX ?= $(HOME)/.local
DATADIR ?= $(PREFIX)/share

.PHONY: run test bench screenshots dist train sysdeps venv setup clean notices wheel dist-check \
	runtime-venv completion install-desktop icons

sysdeps:
	@bash scripts/install-sysdeps.sh $(SYS_PACKAGES)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# resemblyzer pins webrtcvad (compiles from source); webrtcvad-wheels provides the module.
	$(BIN)/python -m pip install --quiet --no-deps $(NODEPS)
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

# Re-train the trait heads, the speaker-consistency threshold and the speaker-comparison system from
# ../shared/data (writes models/traits-*/, speaker-consistency-v1/, comparison-v1/; see their MODEL_CARD.md).
# One thread: BLAS with more threads changes the last bits of the fit, and the committed
# weights are reproduced byte for byte only this way.
DATA ?= ../shared/data
train: setup
	OMP_NUM_THREADS=1 $(BIN)/s2f-train traits --data $(DATA)
	OMP_NUM_THREADS=1 $(BIN)/s2f-train consistency --data $(DATA)
	OMP_NUM_THREADS=1 $(BIN)/s2f-train comparison --data $(DATA)

# THIRD_PARTY_NOTICES.txt from the installed distributions of the environment being packaged
# (fails when a runtime dependency has no licence entry).
notices: venv
	$(BIN)/python scripts/third_party_notices.py

# The wheel: s2f_desktop plus models/ and resources/ as package data (see pyproject.toml).
wheel: notices
	rm -rf build/lib build/bdist.* s2f_desktop.egg-info
	$(BIN)/python -m build --wheel --no-isolation --outdir dist .

# Install the wheel into a fresh venv (torch and the rest come from the configured indexes;
# on this machine torch==2.14.1 comes from the local wheel mirror) and run it from outside
# the checkout: --version of the three commands, one analysis, package data found.
DIST_CHECK_SAMPLE ?= $(DIST_CHECK_VENV)/sample.wav
dist-check: wheel
	rm -rf $(DIST_CHECK_VENV)
	$(PYTHON) -m venv $(DIST_CHECK_VENV)
	$(DIST_CHECK_VENV)/bin/python -m pip install --quiet $(WHEEL)
	$(DIST_CHECK_VENV)/bin/python -m pip install --quiet --no-deps $(NODEPS)
	espeak-ng -v en-us -s 150 -w $(DIST_CHECK_SAMPLE) \
		"The quick brown fox jumps over the lazy dog. This recording is a packaging test of the wheel."
	cd $$(mktemp -d) && OMP_NUM_THREADS=1 $(abspath $(DIST_CHECK_VENV))/bin/python $(CURDIR)/scripts/dist_check.py \
		$(abspath $(DIST_CHECK_SAMPLE))

# The bundle is frozen from a venv holding the runtime requirements only (plus PyInstaller),
# never from the development venv.
$(RUNTIME_VENV)/.installed: pyproject.toml
	@test -x $(RUNTIME_VENV)/bin/python || $(PYTHON) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install --quiet --upgrade pip
	@if [ "$(TORCH)" = cpu ]; then \
		$(RUNTIME_VENV)/bin/python -m pip install --quiet --index-url $(TORCH_CPU_INDEX) \
			"torch==2.14.1+cpu" "torchaudio==2.11.0+cpu"; fi
	$(RUNTIME_VENV)/bin/python -m pip install --quiet '.[build]'
	$(RUNTIME_VENV)/bin/python -m pip install --quiet --no-deps $(NODEPS)
	@touch $@

runtime-venv: $(RUNTIME_VENV)/.installed

dist: runtime-venv
	$(RUNTIME_VENV)/bin/python scripts/third_party_notices.py
	$(RUNTIME_VENV)/bin/pyinstaller --noconfirm --clean installer.spec
	cp LICENSE LICENSING.md resources/licenses/THIRD_PARTY_NOTICES.txt dist/s2f-desktop/
	{ echo "s2f-desktop $(VERSION)"; echo "commit $$(git rev-parse HEAD 2>/dev/null || echo unknown)"; \
	  echo "torch build: $(TORCH)"; echo "built $$(date -u +%Y-%m-%dT%H:%M:%SZ) on $$(uname -sm)"; \
	  echo "Corresponding Source: see LICENSING.md"; } > dist/s2f-desktop/BUILD_INFO.txt
	@du -sh dist/s2f-desktop

# Shell completion generated from the argparse parsers (shtab), installed for the user.
COMPLETION_DIR := resources/completion
completion: venv
	mkdir -p $(COMPLETION_DIR)/bash $(COMPLETION_DIR)/zsh
	$(BIN)/shtab --shell=bash --prefix s2f s2f_desktop.cli.main.build_parser > $(COMPLETION_DIR)/bash/s2f
	$(BIN)/shtab --shell=bash --prefix s2f_train s2f_desktop.training.cli.build_parser > $(COMPLETION_DIR)/bash/s2f-train
	$(BIN)/shtab --shell=bash --prefix s2f_desktop s2f_desktop.gui.app.build_parser > $(COMPLETION_DIR)/bash/s2f-desktop
	$(BIN)/shtab --shell=zsh --prefix s2f s2f_desktop.cli.main.build_parser > $(COMPLETION_DIR)/zsh/_s2f
	$(BIN)/shtab --shell=zsh --prefix s2f_train s2f_desktop.training.cli.build_parser > $(COMPLETION_DIR)/zsh/_s2f-train
	$(BIN)/shtab --shell=zsh --prefix s2f_desktop s2f_desktop.gui.app.build_parser > $(COMPLETION_DIR)/zsh/_s2f-desktop
	install -d $(DATADIR)/bash-completion/completions $(DATADIR)/zsh/site-functions
	install -m 644 $(COMPLETION_DIR)/bash/* $(DATADIR)/bash-completion/completions/
	install -m 644 $(COMPLETION_DIR)/zsh/* $(DATADIR)/zsh/site-functions/
	@echo "bash: completion loads on the next shell; zsh: add $(DATADIR)/zsh/site-functions to fpath"

# Icons rendered from resources/icons/s2f-desktop.svg (PNG sizes, .ico, .icns).
icons: venv
	QT_QPA_PLATFORM=offscreen $(BIN)/python scripts/make_icons.py

# Menu entry, icons and AppStream metadata for the current user (freedesktop.org layout).
install-desktop: venv
	install -d $(DATADIR)/applications $(DATADIR)/metainfo
	sed 's|^Exec=s2f-desktop|Exec=$(abspath $(BIN))/s2f-desktop|; s|^TryExec=s2f-desktop|TryExec=$(abspath $(BIN))/s2f-desktop|' \
		resources/linux/org.s2f_desktop.S2FDesktop.desktop > $(DATADIR)/applications/org.s2f_desktop.S2FDesktop.desktop
	install -m 644 resources/linux/org.s2f_desktop.S2FDesktop.metainfo.xml $(DATADIR)/metainfo/
	install -D -m 644 resources/icons/s2f-desktop.svg $(DATADIR)/icons/hicolor/scalable/apps/org.s2f_desktop.S2FDesktop.svg
	for s in 16 24 32 48 64 128 256 512; do \
		install -D -m 644 resources/icons/png/s2f-desktop-$$s.png \
			$(DATADIR)/icons/hicolor/$${s}x$${s}/apps/org.s2f_desktop.S2FDesktop.png; done
	@if command -v update-desktop-database >/dev/null; then update-desktop-database $(DATADIR)/applications; fi
	@if command -v gtk-update-icon-cache >/dev/null; then gtk-update-icon-cache -q -t $(DATADIR)/icons/hicolor; fi
	@echo "installed: $(DATADIR)/applications/org.s2f_desktop.S2FDesktop.desktop"

clean:
	rm -rf build dist $(VENV) s2f_desktop.egg-info
