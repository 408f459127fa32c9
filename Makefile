# The two commands of the README. Each sets everything up on a fresh clone first (scripts/setup.sh).
.PHONY: app test bench

app:
	@scripts/setup.sh
	.venv/bin/python -m streamlit run playground/app.py

test:
	@scripts/setup.sh --browser --servers
	.venv/bin/ruff check .
	.venv/bin/python -m pytest

bench:
	@scripts/setup.sh
	.venv/bin/python bench/run.py
