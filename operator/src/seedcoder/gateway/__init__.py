"""The OpenAI-compatible completion gateway in front of Triton (FIM, streaming, routing, feedback).

Layers: ``routes`` (HTTP only) -> ``service`` (logic) -> ``backend`` (Triton,
with timeouts); ``errors`` maps failures to HTTP in one place, ``sse`` frames
streams, ``metrics`` exports; ``fim``, ``context``, ``ranking``, ``limits`` are
pure code. Never imports ``seedcoder.operator``.
"""
