"""The desired state of a resource, built by pure functions: no API calls, no clock.

Why together: these modules change when what the operator creates changes. Names
and labels, pod security, placement and image choice are the pieces; the engine
plan says which engine each pool needs; ``build_job``, ``triton``,
``gateway_objects``, ``retrieval_objects`` and ``netpol`` build the manifests;
``desired.plan`` assembles them into one plan. ``observed`` parses the live
objects the plan is compared with. Nothing here imports the reconcile loop, the
autoscaling or the Kubernetes client (import-linter layers contract).
"""
