"""Seed-Coder inference operator: engines, serving, gateway and SLO autoscaling on Kubernetes.

The package is split into layers (checked by import-linter, see pyproject.toml):
pure code (``api``, ``engines``, ``autoscaler``, ``metricnames``) that imports no
Kubernetes, web or Prometheus client, and the processes built on it
(``operator``, ``gateway``, ``devcluster``, ``demo``).
"""

__version__ = "0.1.0"
