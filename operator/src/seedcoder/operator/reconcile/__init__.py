"""The level-based reconcile: observe, plan, apply, report.

Why together: these modules change when how the operator converges changes.
``observe`` reads the live children, ``reconciler.reconcile`` plans (with
``seedcoder.operator.objects``) and applies, ``jobsync`` keeps the shared build
Jobs owned right, ``status_calc`` and ``conditions`` compute the status,
``events`` records transitions, ``metrics_sample`` shapes what one pass saw for
the operator's metrics.
"""
