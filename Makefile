# The two commands a new user needs; both create .venv and install the project into it first.
#   make demo   the main job end to end on the real local stack
#   make test   the whole test suite against the real local stack (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv lint lock stack-up stack-down

# requirements.lock pins every transitive dependency (`make lock` regenerates it after a change to
# pyproject.toml); the install takes it as constraints, so the project itself stays editable.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -qq -c requirements.lock -e ".[dev]"  # -qq: errors only (setuptools' notes on editable installs are not)
	@touch $(STAMP)

lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" -q -o requirements.lock

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/harmony demo

# The fast, server-free lane first (minutes), then the stack and the integration tests, each in random order
# (pytest-randomly prints the seed); last, a check that
# the run wrote nothing into the checkout outside .harmony/.
test: $(STAMP)
	@git status --porcelain --untracked-files=all 2>/dev/null > $(VENV)/.untracked-before || true
	$(BIN)/ruff check .
	$(BIN)/mypy
	HARMONY_CODEC_EXAMPLES=1000 $(BIN)/pytest -m 'not integration'
	$(BIN)/harmony stack up
	HARMONY_CODEC_EXAMPLES=1000 $(BIN)/pytest -m integration --durations=40
	.ci/left-behind $(VENV)/.untracked-before

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

stack-up: $(STAMP)
	$(BIN)/harmony stack up

stack-down: $(STAMP)
	$(BIN)/harmony stack down
