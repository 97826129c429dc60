.PHONY: install lint check test test-snapshot-update

install:
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'

lint:
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/ruff format --check src tests benchmarks

check: lint
	.venv/bin/mypy src

test:
	.venv/bin/python -m pytest -n 2

test-snapshot-update:
	.venv/bin/python -m pytest tests/tui --snapshot-update
