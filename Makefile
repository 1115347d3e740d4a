# Rapport d'activité de la Caf — commandes courantes. `make help` liste les cibles.
SHELL := /bin/bash
# Python 3.11, 3.12 or 3.13 (requirements.lock installs on each): `python3` when it is one of them, else the
# first of python3.11, python3.12, python3.13 found. Another one: make test PYTHON=python3.13 VENV=.venv-3.13
SUPPORTED_PY := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in python3 python3.11 python3.12 python3.13; do \
            $$p -c '$(SUPPORTED_PY)' >/dev/null 2>&1 && { echo $$p; break; }; done)
endif
VENV ?= .venv
BIN := $(VENV)/bin
YEAR ?= 2023
STAMP := $(VENV)/.installe
PYTEST_ARGS ?=
BENCH_ARGS ?=

# Debian packages, the only list (scripts/paquets-debian installs the missing ones as root, else stops and
# names the command; .ci/run calls `make paquets`). For the report: python3-venv (the virtual environment),
# Pango and HarfBuzz for WeasyPrint (PDF), the fonts.
PAQUETS_RAPPORT := python3-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
# For the tests too: Chromium, Node.js (>= 20) and npm for the checks in the browser (tests/test_browser.py).
PAQUETS_TEST := chromium nodejs npm

.DEFAULT_GOAL := help
.PHONY: help report test test-unit golden paquets paquets-rapport lab check demo lock clean bench

help: ## Afficher cette aide
	@echo "Cibles disponibles (variables : YEAR=$(YEAR), PYTHON=$(PYTHON)) :"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-10s %s\n", $$1, $$2}'

paquets-rapport:
	@PYTHON="$(PYTHON)" scripts/paquets-debian $(PAQUETS_RAPPORT)

paquets: ## Vérifier les paquets Debian du rapport et des tests (les installe avec apt-get en root)
	@PYTHON="$(PYTHON)" scripts/paquets-debian $(PAQUETS_RAPPORT) $(PAQUETS_TEST)

$(STAMP): pyproject.toml requirements.lock | paquets-rapport
	@"$(PYTHON)" -c '$(SUPPORTED_PY)' >/dev/null 2>&1 || { echo "Il faut Python 3.11, 3.12 ou 3.13 (PYTHON=$(PYTHON)) : \
	installez-en un ou indiquez son chemin, par exemple : make $(MAKECMDGOALS) PYTHON=/chemin/vers/python3.12" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

report: $(STAMP) ## Construire le rapport de l'année YEAR dans outputs/YEAR (HTML et PDF)
	$(BIN)/rapport build --year $(YEAR)

NODE_DEPS := tests/browser/node_modules/.package-lock.json

$(NODE_DEPS): tests/browser/package.json tests/browser/package-lock.json | paquets
	npm ci --prefix tests/browser --ignore-scripts --no-audit --no-fund

test: paquets $(STAMP) $(NODE_DEPS) ## Lancer les tests (ruff, unitaires, construction complète, contrôles dans Chromium)
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## Lancer les tests rapides (sans construction complète ni navigateur)
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

golden: $(STAMP) ## Réécrire les fichiers de référence des chiffres (tests/golden), puis relire le diff
	$(BIN)/python tests/snapshot.py

bench: $(STAMP) ## Mesurer la construction (froid, chaîne simple, cache, lot de 5 ans) ; écrit benchmarks/RESULTS.md
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

lab: $(STAMP) ## Ouvrir les notebooks dans JupyterLab (environnement du projet, sorties à l’aspect du rapport)
	$(BIN)/python -m helpers.lab

check: $(STAMP) ## Vérifier registres et données de l'année YEAR sans construire
	$(BIN)/rapport check --year $(YEAR)

demo: $(STAMP) ## Régénérer le jeu de démonstration intégré (data/demo)
	$(BIN)/rapport demo

lock: $(STAMP) ## Réécrire requirements.lock à partir de l'environnement installé
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^rapport-caf' > requirements.lock.tmp
	(echo "# Exact versions installed by \`make\` (pip install -r requirements.lock), tested on Python 3.11 and 3.13 (.ci/run)."; \
	 echo "# Regenerate after changing pyproject.toml: make lock"; cat requirements.lock.tmp) > requirements.lock
	rm requirements.lock.tmp

clean: ## Supprimer les sorties (outputs/) et l'environnement virtuel (VENV, par défaut .venv)
	rm -rf outputs $(VENV)
