"""Development tools of the project, kept out of the product.

Why a package of its own: the product's wheel, and so its container images, is
built from ``operator/src`` alone; what only the tests, the benchmarks and the
demo need (the local control plane, local Prometheus and Triton servers, the
demo, the writers of generated repository files) lives here. This package imports
``seedcoder``; ``seedcoder`` never imports this one (an import-linter contract).
"""
