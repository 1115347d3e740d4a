# Rapport d'activité de la Caf — commandes courantes. `make help` liste les cibles.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
YEAR ?= 2023
STAMP := $(VENV)/.installe

.DEFAULT_GOAL := help
.PHONY: help report test lab check demo lock clean

help: ## Afficher cette aide
	@echo "Cibles disponibles (variables : YEAR=$(YEAR), PYTHON=$(PYTHON)) :"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

report: $(STAMP) ## Construire le rapport de l'année YEAR dans outputs/YEAR (HTML et PDF)
	$(BIN)/rapport build --year $(YEAR)

NODE_DEPS := tests/browser/node_modules/.package-lock.json

$(NODE_DEPS): tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --ignore-scripts --no-audit --no-fund

test: $(STAMP) $(NODE_DEPS) ## Lancer les tests (unitaires, construction complète, contrôles dans Chromium)
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
