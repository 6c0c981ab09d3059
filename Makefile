# syncact: `make demo` runs both seeds' pipelines on their embedded datasets, `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install browser demo test clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/syncact demo --out results/demo
	$(VENV)/bin/syncact demo-rsa --out results/demo-rsa

# Debian's chromium for the report's browser test (the machines run as root; elsewhere install it yourself)
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	  || echo "could not install chromium: the report's browser test will be skipped (fails under CI=true)"

test: $(STAMP) browser
	$(VENV)/bin/ruff check src tests
	HF_HUB_OFFLINE=1 MPLBACKEND=Agg $(VENV)/bin/python -m pytest -n 2 --durations=15; \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

clean:
	rm -rf results .pytest_cache build src/*.egg-info
