# Each target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: test bench lint cov demo clean serve web

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# llama-cpp-python (the `local` extra) compiles llama.cpp here. Not for this CPU alone (-march=native): some
# virtual machines report AMX in cpuid without letting a process use it, and llama.cpp built natively there
# dies of SIGILL at its first matrix product. AVX2, FMA and F16C are what x86-64 machines of this kind have.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

$(STAMP): $(BIN)/python pyproject.toml
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -q -e '.[dev,openai,local,redis,compare,postgres,sqlite,pydantic,otel,langchain]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# mypy --strict on the package and on tests/ (the files are set in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check streamflow tests benchmarks examples
	$(BIN)/ruff format --check streamflow tests benchmarks examples
	$(BIN)/mypy

# Line and branch coverage of the package by the whole test suite, subprocesses included; prints the total.
cov: $(STAMP)
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -q
	$(BIN)/coverage combine -q
	$(BIN)/coverage report

demo: $(STAMP)
	$(BIN)/python examples/agent_demo.py $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage .coverage.* htmlcov

serve: $(STAMP)
	$(BIN)/python examples/serve_agent.py --agent demo --host 127.0.0.1 --port $(or $(PORT),8000) $(SERVE_ARGS)

.PHONY: demo-distributed
# A worker process and a web process meeting in Redis (started with .ci/redis-up when none answers).
demo-distributed: $(STAMP)
	bash .ci/redis-up
	$(BIN)/python examples/demo_distributed.py $(DEMO_ARGS)

# The SDK page's bundle (streamflow/server/static/sdk.js) from web/src/page.js and the locked npm packages of
# web/package-lock.json; the tests check that the committed bundle is what this builds.
web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web: web/node_modules/.installed
	cd web && npm run build
