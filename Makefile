# keepwarm: `make run` and `make test` each do all of their own set-up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run demo test check fmt bench bench-peers clean

$(STAMP): pyproject.toml scripts/install
	bash scripts/install
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/keepwarm serve -t examples/template.yaml

demo: $(STAMP)
	$(VENV)/bin/keepwarm demo

test: $(STAMP)
	bash scripts/test

check: $(STAMP)
	bash scripts/check

fmt: $(STAMP)
	$(VENV)/bin/ruff format keepwarm tests bench
	$(VENV)/bin/ruff check --fix keepwarm tests bench

bench: $(STAMP)
	$(PY) -m bench.run

bench-peers: $(STAMP)
	bash bench/peers/install

clean:
	rm -rf $(VENV) .keepwarm .mypy_cache .ruff_cache
