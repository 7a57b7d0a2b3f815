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
MOLECULE_SCENARIOS ?= default engine registry swarm lab vms
# What `make clean` empties; it keeps CLEAN_KEEP (the lab CA and its keys, the registry password),
# which only `make clean-secrets` deletes.
ARTIFACTS ?= artifacts
CLEAN_KEEP := pki secrets

.PHONY: help bootstrap venv collections engine up down converge lab chaos report test lint pytest molecule bench clean \
	clean-artifacts clean-secrets

help:
	@echo "make lab    - the whole lab on local Docker-in-Docker nodes, ends in artifacts/REPORT.md"
	@echo "make test   - lint (ansible-lint, yamllint, ruff), pytest, molecule"
	@echo "make up     - images and lab nodes only;  make down - remove what carries the lab's label"
	@echo "make converge - the lab's set-up only (idempotent; no drills, no evidence)"
	@echo "make chaos  - fault drills under load on the converged lab (artifacts/evidence/chaos/)"
	@echo "make bench  - lab set-up, node memory, Locust vs wrk, stack vs direct RPS, analysis time,"
	@echo "             capacity repeatability (3 passes), the cost of sampling the nodes,"
	@echo "             site.yml twice and bad input (rerun part: starts with make down)"
	@echo "make clean  - make down, then delete $(ARTIFACTS)/ except $(ARTIFACTS)/pki and $(ARTIFACTS)/secrets"
	@echo "make clean-secrets - delete $(ARTIFACTS)/pki and $(ARTIFACTS)/secrets (lab CA, keys, registry password)"

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

converge: bootstrap
	$(PLAYBOOK) playbooks/converge.yml

lab: bootstrap
	$(PLAYBOOK) site.yml
	@echo "Report: artifacts/REPORT.md"

# Fault drills on the converged lab (make lab or make converge first).
chaos: bootstrap
	$(PLAYBOOK) chaos.yml

report: collections
	$(PLAYBOOK) playbooks/report.yml

lint: collections
	yamllint -s .
	ansible-lint
	ruff check .
	ruff format --check .
	$(PY) scripts/role_docs.py --check

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
	$(PY) scripts/bench.py capacity || echo "bench: capacity part skipped (run make lab first)"
	$(PY) scripts/bench.py probe-cost || echo "bench: probe-cost part skipped (run make lab first)"
	$(PY) scripts/bench.py rerun

clean: down clean-artifacts

# The files part of `clean` alone (no `down`): everything under $(ARTIFACTS)/ but CLEAN_KEEP.
clean-artifacts:
	@test -n "$(strip $(ARTIFACTS))" || { echo "ARTIFACTS is empty" >&2; exit 2; }
	@if [ -d "$(ARTIFACTS)" ]; then \
	  find -H "$(ARTIFACTS)" -mindepth 1 -maxdepth 1 $(foreach k,$(CLEAN_KEEP),! -name $(k)) \
	    -printf 'clean: deleting %p\n' -exec rm -rf {} +; \
	  for k in $(CLEAN_KEEP); do \
	    if [ -e "$(ARTIFACTS)/$$k" ]; then echo "clean: keeping $(ARTIFACTS)/$$k (make clean-secrets deletes it)"; fi; \
	  done; \
	fi

clean-secrets:
	@test -n "$(strip $(ARTIFACTS))" || { echo "ARTIFACTS is empty" >&2; exit 2; }
	@for k in $(CLEAN_KEEP); do \
	  if [ -e "$(ARTIFACTS)/$$k" ]; then echo "clean-secrets: deleting $(ARTIFACTS)/$$k"; fi; \
	done
	rm -rf $(foreach k,$(CLEAN_KEEP),"$(ARTIFACTS)/$(k)")
