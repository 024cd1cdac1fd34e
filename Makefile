# One entry point for newcomers, CI and developers.
#   make demo   the whole product end to end on this machine (no GPU needed)
#   make test   installs everything it needs, then runs every quality gate and test
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY        ?= python3
VENV      := .venv
VPY       := $(VENV)/bin/python
CACHE     ?= $(HOME)/.cache/seedcoder
export SEEDCODER_CACHE := $(CACHE)

.PHONY: help
help:
	@echo "make demo          run the whole product end to end (local control plane, operator, Triton, gateway)"
	@echo "make test          install everything, then lint, type-check and run the whole test suite"
	@echo "make up / down     like demo, but leave the stack running for exploration / stop it"
	@echo "make images        build the container images (podman; cached by a hash of their inputs)"
	@echo "make image-train   build the fine-tuning training image (opt-in: about 6 GB, torch with CUDA wheels)"
	@echo "make cluster-up    start only the local Kubernetes control plane (kubeconfig in .dev/kubeconfig)"
	@echo "make cluster-down  stop it"
	@echo "make bench-operator | bench-gateway | bench-scan | bench-autoscaling | bench-finetune"

# ---------------------------------------------------------------- set-up
$(VENV)/.stamp: pyproject.toml devtools/pyproject.toml tools/setup-python.sh
	bash tools/setup-python.sh $(PY) $(VENV)
	touch $@

.PHONY: venv
venv: $(VENV)/.stamp

.PHONY: testbins
testbins:
	bash tools/build-testbins.sh >/dev/null
	bash tools/fetch-monitoring-crds.sh >/dev/null

.PHONY: tools
tools: venv testbins
	bash tools/install-tools.sh

# The real node cpu-0: kubelet, kube-proxy, containerd, kube-router, CoreDNS and the
# node's images (built FROM scratch with podman, which `make tools` installs).
.PHONY: nodebins
nodebins: testbins tools
	bash tools/build-nodebins.sh >/dev/null

.PHONY: deps
deps: venv testbins tools nodebins images

# The product's container images (seedcoder, seedcoder-triton-cpu, and the
# TensorRT-LLM image against a local stand-in base), built with podman from
# Debian's packages and a local wheelhouse; cached by a hash of their inputs.
.PHONY: images
images: venv tools
	$(VPY) tools/build_images.py

# The fine-tuning training image (seedcoder-train: the seedcoder image plus torch
# with its CUDA 13 wheels, transformers and peft, the `finetune` extra). Opt-in and
# NOT part of `make images` or `make test`: it downloads about 3 GB of wheels and
# the image is several GB (needs about 20 GB free while it builds).
.PHONY: image-train
image-train: venv tools
	$(VPY) tools/build_images.py --only seedcoder-train

# ---------------------------------------------------------------- quality gates
.PHONY: lint
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

.PHONY: test
test: deps lint
	$(VPY) -m pytest

# ---------------------------------------------------------------- local control plane
.PHONY: cluster-up
cluster-up: deps
	$(VPY) -m seedcoder_dev.devcluster up

.PHONY: cluster-down
cluster-down: venv
	$(VPY) -m seedcoder_dev.devcluster down

# ---------------------------------------------------------------- the product, locally
.PHONY: demo
demo: deps
	$(VPY) -m seedcoder_dev.demo run

.PHONY: up
up: deps
	$(VPY) -m seedcoder_dev.demo up

.PHONY: down
down: venv
	$(VPY) -m seedcoder_dev.demo down

# ---------------------------------------------------------------- generated files
# Re-run after changing the API models, files/rbac-rules.yaml, the chart or the
# observability generators; drift tests fail until the outputs are regenerated.
.PHONY: manifests
manifests: venv
	$(VPY) -m seedcoder.api.crdgen --write manifests/crds/seedcoderdeployments.yaml
	$(VPY) -m seedcoder.api.finetune_crd --write manifests/crds/seedcoderfinetunes.yaml
	bash tools/render-manifests.sh

# ---------------------------------------------------------------- benchmarks
.PHONY: bench-operator
bench-operator: deps
	$(VPY) -m benchmarks.operator_bench

.PHONY: bench-gateway
bench-gateway: deps
	$(VPY) -m benchmarks.gateway_bench

.PHONY: bench-scan
bench-scan: venv
	$(VPY) -m benchmarks.scan_bench

.PHONY: bench-autoscaling
bench-autoscaling: venv
	$(VPY) -m benchmarks.autoscaling

.PHONY: bench-sizing
bench-sizing: venv
	$(VPY) -m benchmarks.sizing

# CPU fine-tuning loop (feedback -> data set -> LoRA -> GGUF -> gate -> served); tens of minutes,
# niced: the first run also creates the cached training environment (torch, transformers, peft)
.PHONY: bench-finetune
bench-finetune: venv
	nice -n 19 $(VPY) -m benchmarks.finetune_bench

.PHONY: clean
clean:
	rm -rf .dev .pytest_cache .mypy_cache .ruff_cache
