# The two commands of the README. Both set up what they need first.
.PHONY: run test lint format

run:  ## set up, migrate and serve the app on http://127.0.0.1:8000 (offline mode unless configured)
	@bash .ci/setup
	DJANGO_DEBUG=1 .venv/bin/python manage.py migrate --noinput
	DJANGO_DEBUG=1 .venv/bin/python manage.py runserver 127.0.0.1:8000

test:  ## set up and run the whole test suite (lint and format checks included)
	@bash .ci/setup --test
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
