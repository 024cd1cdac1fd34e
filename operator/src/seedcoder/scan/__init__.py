"""Security scanning of generated code: rules as data, a fast in-context scanner, secret scrubbing.

Pure code (no web framework, no Kubernetes client): the gateway runs the fast
scanner on every candidate before any of its text leaves, and the deeper pass
on accepted completions off the request path.
"""
