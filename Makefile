# Rapport d'activité de la Caf — commandes courantes. `make help` liste les cibles.
SHELL := /bin/bash
comma := ,
# Python 3.11.2 (Debian 12's) to 3.13 (requirements.lock installs on each; tests/test_lock.py checks every pin's
# Requires-Python against PY_OLDEST, and that pyproject.toml, environment.yml and the README say the same range):
# `python3` when it is one of them, else the first of python3.11, python3.12, python3.13 found.
# Another one: make test PYTHON=python3.13 VENV=.venv-3.13
PY_OLDEST := 3.11.2
PY_NEWEST := 3.13
SUPPORTED_PY := import sys; sys.exit(not (($(subst .,$(comma) ,$(PY_OLDEST))) <= sys.version_info[:3] \
                and sys.version_info[:2] <= ($(subst .,$(comma) ,$(PY_NEWEST)))))
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
# names the command to run as root). For the report: python3-venv (the virtual environment),
# Pango and HarfBuzz for WeasyPrint (PDF), the fonts.
PAQUETS_RAPPORT := python3-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
# For the tests too: Chromium for the checks in the browser (tests/test_browser.py, test_preview.py: driven from
# Python by playwright, axe-core from PyPI: no Node.js), libatomic1 for the driver that playwright's wheel
# carries (a minimal Debian root lacks it: libatomic.so.1), poppler-utils for pdftoppm (tests/test_pages.py).
PAQUETS_TEST := chromium libatomic1 poppler-utils

.DEFAULT_GOAL := help
.PHONY: help report test test-unit golden paquets paquets-rapport lab check demo lock clean bench

help: ## Afficher cette aide
	@echo "Cibles disponibles (variables : YEAR=$(YEAR), PYTHON=$(PYTHON)) :"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-10s %s\n", $$1, $$2}'

paquets-rapport:
	@PYTHON="$(PYTHON)" PAQUETS_AUSSI="$(PAQUETS_TEST)" scripts/paquets-debian $(PAQUETS_RAPPORT)

paquets: ## Vérifier les paquets Debian du rapport et des tests (les installe avec apt-get en root)
	@PYTHON="$(PYTHON)" scripts/paquets-debian $(PAQUETS_RAPPORT) $(PAQUETS_TEST)

$(STAMP): pyproject.toml requirements.lock | paquets-rapport
	@"$(PYTHON)" -c '$(SUPPORTED_PY)' >/dev/null 2>&1 || { echo "Il faut Python $(PY_OLDEST) à $(PY_NEWEST) (PYTHON=$(PYTHON)) : \
	installez-en un ou indiquez son chemin, par exemple : make $(MAKECMDGOALS) PYTHON=/chemin/vers/python3.12" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

report: $(STAMP) ## Construire le rapport de l'année YEAR dans outputs/YEAR (HTML et PDF)
	$(BIN)/rapport build --year $(YEAR)

test: paquets $(STAMP) ## Lancer les tests (ruff, unitaires, construction complète, contrôles dans Chromium)
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## Lancer les tests rapides (sans construction complète ni navigateur)
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

golden: $(STAMP) ## Réécrire les fichiers de référence des chiffres (tests/golden), puis relire le diff
	$(BIN)/python tests/snapshot.py

bench: $(STAMP) ## Mesurer la construction (froid, chaîne simple, cache, lots, portraits, exécution nationale, aperçu) ; écrit benchmarks/RESULTS.md
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

lab: $(STAMP) ## Ouvrir les notebooks dans JupyterLab (environnement du projet, sorties à l’aspect du rapport)
	$(BIN)/python -m helpers.lab

check: $(STAMP) ## Vérifier registres et données de l'année YEAR sans construire
	$(BIN)/rapport check --year $(YEAR)

demo: $(STAMP) ## Régénérer le jeu de démonstration intégré (data/demo)
	$(BIN)/rapport demo

lock: $(STAMP) ## Réécrire requirements.lock à partir de l'environnement installé
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^rapport-caf' > requirements.lock.tmp
	(echo "# Exact versions installed by \`make\` (pip install -r requirements.lock), on Python $(PY_OLDEST) to $(PY_NEWEST): tested on Debian 12 and 13 (.ci/run)."; \
	 echo "# Regenerate after changing pyproject.toml: make lock"; cat requirements.lock.tmp) > requirements.lock
	rm requirements.lock.tmp
	$(BIN)/python tests/test_lock.py --write-environment
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_lock.py

clean: ## Supprimer les sorties (outputs/) et l'environnement virtuel (VENV, par défaut .venv)
	rm -rf outputs $(VENV)
