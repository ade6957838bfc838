# The two commands of the quickstart are `make run` and `make test`; both go through `make install`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export PORT

PO_FILES := $(wildcard aifactory/locale/*/LC_MESSAGES/django.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: install run test test-sqlite test-postgres lint format messages benchmark clean

install: $(VENV)/.installed $(MO_FILES)

$(VENV)/.installed: pyproject.toml
	scripts/ensure-python.sh $(PYTHON)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

%.mo: %.po $(VENV)/.installed
	$(BIN)/python scripts/compile_messages.py $<

run: install
	$(BIN)/aifactory up --port $(PORT)

test: install
	scripts/test.sh

test-sqlite: install
	scripts/test.sh sqlite

test-postgres: install
	scripts/test.sh postgres

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-extract the translatable strings after changing templates or code (needs GNU gettext).
messages: install
	cd aifactory && ../$(BIN)/aifactory makemessages -l de -l fr -l lb --no-obsolete --no-location -i "accounts/tests/*" -i "core/tests/*"

benchmark: install
	$(BIN)/python benchmarks/http.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
