# Rapport d'activité de la Caf — commandes courantes. `make help` liste les cibles.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
YEAR ?= 2023
STAMP := $(VENV)/.installe

# Debian packages, the only list (scripts/paquets-debian installs the missing ones as root, else stops and
# names the command; .ci/run calls `make paquets`). For the report: python3-venv (the virtual environment),
# Pango and HarfBuzz for WeasyPrint (PDF), the fonts.
PAQUETS_RAPPORT := python3-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
# For the tests too: Chromium, Node.js (>= 20) and npm for the checks in the browser (tests/test_browser.py).
PAQUETS_TEST := chromium nodejs npm

.DEFAULT_GOAL := help
.PHONY: help report test paquets paquets-rapport lab check demo lock clean

help: ## Afficher cette aide
	@echo "Cibles disponibles (variables : YEAR=$(YEAR), PYTHON=$(PYTHON)) :"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-10s %s\n", $$1, $$2}'

paquets-rapport:
	@PYTHON="$(PYTHON)" scripts/paquets-debian $(PAQUETS_RAPPORT)

paquets: ## Vérifier les paquets Debian du rapport et des tests (les installe avec apt-get en root)
	@PYTHON="$(PYTHON)" scripts/paquets-debian $(PAQUETS_RAPPORT) $(PAQUETS_TEST)

$(STAMP): pyproject.toml requirements.lock | paquets-rapport
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

test: paquets $(STAMP) $(NODE_DEPS) ## Lancer les tests (unitaires, construction complète, contrôles dans Chromium)
	$(BIN)/python -m pytest

lab: $(STAMP) ## Ouvrir les notebooks dans JupyterLab avec l'environnement du projet
	$(BIN)/jupyter lab notebooks

check: $(STAMP) ## Vérifier registres et données de l'année YEAR sans construire
	$(BIN)/rapport check --year $(YEAR)

demo: $(STAMP) ## Régénérer le jeu de démonstration intégré (data/demo)
	$(BIN)/rapport demo

lock: $(STAMP) ## Réécrire requirements.lock à partir de l'environnement installé
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^rapport-caf' > requirements.lock.tmp
	(echo "# Exact versions installed by \`make\` (pip install -r requirements.lock), tested on Python 3.11."; \
	 echo "# Regenerate after changing pyproject.toml: make lock"; cat requirements.lock.tmp) > requirements.lock
	rm requirements.lock.tmp

clean: ## Supprimer les sorties (outputs/) et l'environnement (.venv)
	rm -rf outputs $(VENV)
