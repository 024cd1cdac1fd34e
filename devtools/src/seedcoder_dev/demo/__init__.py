"""``make demo``, ``make up`` and ``make down``: the whole product end to end on one machine.

Why: a newcomer should see, for real and in a few minutes, what a platform team
gets on a cluster: the operator reconciling a SeedCoderDeployment on a real
Kubernetes API with simulated H100 and A100 pools, and code completions coming
back through the gateway from a real model on the real Triton server.
"""
