# Two entry points: `make demo` and `make test`. Each sets up .venv first if needed.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: install demo test lint clean

install: $(STAMP)

# torch==2.13.0 is the CPU build on the project's machines (a bare `torch` may pull a multi-GB
# CUDA build); the package itself accepts any recent torch.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[llm,dev]"
	touch $(STAMP)

demo: install
	rm -rf runs/demo
	$(VENV)/bin/arcforge solve arc1/eval --out runs/demo

# one test process per core; each test file stays in one process (the DSL's timed searches together)
test: install
	$(PY) -m pytest -q -n auto --dist loadfile

lint: install
	$(VENV)/bin/ruff check src tests benchmarks kaggle

clean:
	rm -rf $(VENV) runs
