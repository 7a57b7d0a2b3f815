# The lab's entry points. `make lab` and `make test` do all their own set-up:
# .venv with pinned Python deps, collections (offline when the bundled ones satisfy
# requirements.yml), the Docker engine (installed when missing, started when not running)
# and the test tools (redis-server, mmdebstrap).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0
PLAYBOOK := $(VENV)/bin/ansible-playbook
MOLECULE_SCENARIOS ?= default engine registry swarm lab

.PHONY: help bootstrap venv collections engine up down lab report test lint pytest molecule bench clean

help:
	@echo "make lab    - the whole lab on local Docker-in-Docker nodes, ends in artifacts/REPORT.md"
	@echo "make test   - lint (ansible-lint, yamllint, ruff), pytest, molecule"
	@echo "make up     - images and lab nodes only;  make down - remove the lab nodes"
	@echo "make bench  - lab set-up, node memory, Locust vs wrk, stack vs direct RPS, analysis time"

$(VENV)/.installed: requirements.txt scripts/bootstrap.sh
	scripts/bootstrap.sh venv "$(VENV)"
	@touch $@

venv: $(VENV)/.installed

collections: venv
	$(PY) scripts/install_collections.py requirements.yml

# The controller itself: Docker engine and the tools the tests use (role docker_engine).
engine: collections
	$(PLAYBOOK) playbooks/controller.yml

bootstrap: engine

up: bootstrap
	$(PLAYBOOK) playbooks/lab.yml

down: collections
	$(PLAYBOOK) playbooks/lab.yml -e lab_state=absent

lab: bootstrap
	$(PLAYBOOK) site.yml
	@echo "Report: artifacts/REPORT.md"

report: collections
	$(PLAYBOOK) playbooks/report.yml

lint: collections
	yamllint -s .
	ansible-lint
	ruff check .
	ruff format --check .

pytest: bootstrap
	pytest

molecule: bootstrap
	set -e; for s in $(MOLECULE_SCENARIOS); do molecule test -s $$s; done

test: lint pytest molecule

# lab: cold/warm substrate on its own nodes; generator: Locust vs wrk on the app on this host;
# stack: direct vs 4-replica stack, analysis: load-test analysis + report (both need `make lab`).
bench: bootstrap
	$(PY) scripts/bench.py lab
	$(PY) scripts/bench.py generator
	$(PY) scripts/bench.py stack || echo "bench: stack part skipped (run make lab first)"
	$(PY) scripts/bench.py analysis || echo "bench: analysis part skipped (run make lab first)"

clean: down
	rm -rf artifacts
