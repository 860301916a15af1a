# Two commands do all the set-up on a fresh machine (see README):
#   make run    install, build the index of seeds/, and start qa on it
#   make test   install, lint, type-check and run the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARTICLES ?= seeds
INDEX ?= index

.PHONY: install run index test lint pytest bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: an unpinned torch pulls several GB of CUDA packages
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

index: install
	$(BIN)/qa index build --articles $(ARTICLES) --index $(INDEX)

# Until the chat app lands, `make run` builds the index and shows what it holds.
run: index
	$(BIN)/qa index status --index $(INDEX)

lint: install
	$(BIN)/ruff check qa tests bench
	$(BIN)/ruff format --check qa tests bench
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint pytest

bench: install
	cd bench && ../$(BIN)/python chunk_sizes.py
	cd bench && ../$(BIN)/python build.py

clean:
	rm -rf $(VENV) $(INDEX) .pytest_cache .mypy_cache .ruff_cache
