"""Typed models of the project's APIs: the SeedCoderDeployment resource and the gateway's configuration.

Pure: imports no Kubernetes, web or Prometheus client.
"""
