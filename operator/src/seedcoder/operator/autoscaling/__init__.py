"""The operator's side of SLO autoscaling: the signals in, the replica change out.

Why together: these modules change when the route from a metric sample to a
replica count changes. ``signals`` reads Prometheus (or the gateway pods
directly); ``scaling`` runs the pure policy (``seedcoder.autoscaler``) and writes
the pools' replicas with its own field manager.
"""
