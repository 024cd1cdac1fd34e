"""Monitoring as data: recording rules, burn-rate alerts, scrape monitors and Grafana dashboards.

Why a package of its own: the operator writes these objects per SeedCoderDeployment,
the Helm chart and ``manifests/`` ship them for a whole installation, and tests run
them through real ``promtool`` and a real Prometheus. Generating all of them from
one place (and from ``seedcoder.metricnames``) keeps the copies equal.

Everything here is pure: functions return dicts and strings, nothing talks to
Kubernetes or Prometheus.
"""
