"""Recording rules and multi-window multi-burn-rate alerts for one SeedCoderDeployment.

Why: the SLO (time to first token, availability) is judged from the gateway's
histograms. Recording the per-window ratios once keeps the alerts cheap and gives
the dashboards the same numbers the alerts use. The operator calls
:func:`monitoring_objects` for each resource when the Prometheus Operator is present;
the same groups are rendered as a plain rule file for Prometheus without it.

Series are matched on the ``namespace`` and ``deployment`` labels that the scrape
monitor (:mod:`seedcoder.observability.monitors`) puts on every target.
"""

from __future__ import annotations

from typing import Any

from seedcoder import metricnames as m
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.api.spec import TTFT_OBJECTIVE_QUANTILE
from seedcoder.observability import monitors
from seedcoder.observability.slo import (
    BURN_WINDOWS,
    BurnWindow,
    le_matcher,
    sli_windows,
    threshold_bucket,
)

POOL = "namespace_deployment_pool"
DEP = "namespace_deployment"

# Recording rule names (level:metric:operations), used by the dashboards too.
TTFT_QUANTILE = POOL + ":seedcoder_gateway_time_to_first_token_seconds:p{q}_rate5m"
E2E_QUANTILE = POOL + ":seedcoder_gateway_request_duration_seconds:p{q}_rate5m"
DEP_TTFT_QUANTILE = DEP + ":seedcoder_gateway_time_to_first_token_seconds:p{q}_rate5m"
REQUEST_RATE = POOL + ":seedcoder_gateway_requests:rate5m"
ERROR_RATIO = POOL + ":seedcoder_gateway_requests_5xx:ratio_rate5m"
TTFT_SLOW_RATIO = DEP + ":seedcoder_gateway_ttft_slow:ratio_rate{w}"
AVAILABILITY_ERROR_RATIO = DEP + ":seedcoder_gateway_requests_5xx:ratio_rate{w}"
SLO_TTFT_THRESHOLD = DEP + ":seedcoder_slo_ttft_threshold_seconds"
SLO_TTFT_OBJECTIVE = DEP + ":seedcoder_slo_ttft_objective:ratio"
SLO_AVAILABILITY_OBJECTIVE = DEP + ":seedcoder_slo_availability_objective:ratio"
ADAPTER = "namespace_deployment_adapter"
FEEDBACK_EVENTS = ADAPTER + ":seedcoder_gateway_feedback_events:increase{w}"
"""Feedback events per adapter (``base`` included) and outcome: the rollback's minimum-events input."""
ADAPTER_ACCEPTANCE = ADAPTER + ":seedcoder_gateway_feedback_acceptance:ratio_rate{w}"
"""Accepted-or-edited share of feedback events per adapter: the live acceptance rate a rollback compares."""
ACCEPTANCE_WINDOWS = ("1h", "1d")
ACCEPTED_OUTCOMES = ("accepted", "edited")

QUANTILES = ("50", "95", "99")

TTFT_FAST_BURN = "SeedCoderTTFTBudgetFastBurn"
TTFT_SLOW_BURN = "SeedCoderTTFTBudgetSlowBurn"
AVAILABILITY_FAST_BURN = "SeedCoderAvailabilityBudgetFastBurn"
AVAILABILITY_SLOW_BURN = "SeedCoderAvailabilityBudgetSlowBurn"
POOL_UNHEALTHY = "SeedCoderPoolUnhealthy"
POOL_UNDER_CAPACITY = "SeedCoderPoolBelowDesiredReplicas"

RUNBOOK_BASE_URL = "https://github.com/seedcoder/seedcoder-operator/blob/main/docs/runbooks/"
"""Where each alert's runbook lives: ``docs/runbooks/<alert>.md`` in this repository."""
SEVERITY = {"page": "critical", "ticket": "warning"}
"""Burn-window class -> the ``severity`` label default Alertmanager routing understands."""


def runbook_url(alert: str) -> str:
    return f"{RUNBOOK_BASE_URL}{alert}.md"


def _with_runbooks(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every alert gets ``annotations.runbook_url`` pointing at its runbook."""
    for rule in alerts:
        rule.setdefault("annotations", {})["runbook_url"] = runbook_url(rule["alert"])
    return alerts


def recording_rule_names() -> list[str]:
    """Every series name the per-deployment rules record (for dashboards and tests)."""
    names = [n.format(q=q) for n in (TTFT_QUANTILE, E2E_QUANTILE, DEP_TTFT_QUANTILE) for q in QUANTILES]
    names += [REQUEST_RATE, ERROR_RATIO, SLO_TTFT_THRESHOLD, SLO_TTFT_OBJECTIVE, SLO_AVAILABILITY_OBJECTIVE]
    names += [n.format(w=w) for n in (TTFT_SLOW_RATIO, AVAILABILITY_ERROR_RATIO) for w in sli_windows()]
    names += [n.format(w=w) for n in (FEEDBACK_EVENTS, ADAPTER_ACCEPTANCE) for w in ACCEPTANCE_WINDOWS]
    return names


def _sel(namespace: str, name: str, *extra: str) -> str:
    return "{" + ", ".join([f'namespace="{namespace}"', f'deployment="{name}"', *extra]) + "}"


def _by(level: str) -> str:
    return "namespace, deployment, pool" if level == POOL else "namespace, deployment"


def _error_ratio(by: str, sel: str, err_sel: str, window: str) -> str:
    """5xx answers / all answers; 0 (not "no data") while the gateway serves without errors.

    A counter with a ``code="5xx"`` label does not exist until the first error, so
    the numerator falls back to zero times the request rate (the same label set).
    """
    total = m.GATEWAY_REQUESTS_TOTAL
    all_rate = f"sum by ({by}) (rate({total}{sel}[{window}]))"
    return f"(\n  sum by ({by}) (rate({total}{err_sel}[{window}]))\nor\n  0 * {all_rate}\n)\n/\n{all_rate}"


def _recording_group(
    namespace: str, name: str, bound: float, ttft_obj: float, avail_obj: float
) -> dict[str, Any]:
    sel = _sel(namespace, name)
    err_sel = _sel(namespace, name, 'code=~"5.."')
    labels = {"namespace": namespace, "deployment": name}
    rules: list[dict[str, Any]] = []
    for template, metric, level in (
        (TTFT_QUANTILE, m.GATEWAY_TTFT_SECONDS, POOL),
        (DEP_TTFT_QUANTILE, m.GATEWAY_TTFT_SECONDS, DEP),
        (E2E_QUANTILE, m.GATEWAY_E2E_SECONDS, POOL),
    ):
        for q in QUANTILES:
            rules.append(
                {
                    "record": template.format(q=q),
                    "expr": f"histogram_quantile(0.{q}, sum by ({_by(level)}, le) "
                    f"(rate({metric}_bucket{sel}[5m])))",
                }
            )
    total = m.GATEWAY_REQUESTS_TOTAL
    rules.append({"record": REQUEST_RATE, "expr": f"sum by ({_by(POOL)}) (rate({total}{sel}[5m]))"})
    rules.append(
        {
            "record": ERROR_RATIO,
            "expr": _error_ratio(_by(POOL), sel, err_sel, "5m"),
        }
    )
    for window in sli_windows():
        fast = f"{m.GATEWAY_TTFT_SECONDS}_bucket{_sel(namespace, name, le_matcher(bound))}"
        rules.append(
            {
                "record": TTFT_SLOW_RATIO.format(w=window),
                "expr": f"1 - (\n  sum by ({_by(DEP)}) (rate({fast}[{window}]))\n/\n"
                f"  sum by ({_by(DEP)}) (rate({m.GATEWAY_TTFT_SECONDS}_count{sel}[{window}]))\n)",
            }
        )
        rules.append(
            {
                "record": AVAILABILITY_ERROR_RATIO.format(w=window),
                "expr": _error_ratio(_by(DEP), sel, err_sel, window),
            }
        )
    rules += _acceptance_rules(sel, _sel(namespace, name, f'outcome=~"{"|".join(ACCEPTED_OUTCOMES)}"'))
    for record, value in (
        (SLO_TTFT_THRESHOLD, bound),
        (SLO_TTFT_OBJECTIVE, ttft_obj),
        (SLO_AVAILABILITY_OBJECTIVE, avail_obj),
    ):
        rules.append({"record": record, "expr": f"vector({value!r})", "labels": dict(labels)})
    return {"name": f"seedcoder-slo-recording.{namespace}.{name}", "interval": "30s", "rules": rules}


def _acceptance_rules(sel: str, accepted_sel: str) -> list[dict[str, Any]]:
    """Per-adapter feedback counts and acceptance rate (``adapter="base"``: the base model).

    The rate is 0, not "no data", for an adapter whose completions got only
    rejections (the accepted series does not exist until the first acceptance).
    """
    by = "namespace, deployment, adapter"
    fb = m.GATEWAY_FEEDBACK_TOTAL
    out: list[dict[str, Any]] = []
    for w in ACCEPTANCE_WINDOWS:
        out.append(
            {
                "record": FEEDBACK_EVENTS.format(w=w),
                "expr": f"sum by ({by}, outcome) (increase({fb}{sel}[{w}]))",
            }
        )
        every = f"sum by ({by}) (rate({fb}{sel}[{w}]))"
        out.append(
            {
                "record": ADAPTER_ACCEPTANCE.format(w=w),
                "expr": f"(\n  sum by ({by}) (rate({fb}{accepted_sel}[{w}]))\nor\n  0 * {every}\n)"
                f"\n/\n{every}",
            }
        )
    return out


def _burn_condition(template: str, selector: str, window: BurnWindow, budget: float) -> str:
    threshold = f"({window.factor:g} * {budget:.6g})"
    return (
        f"(\n  {template.format(w=window.long)}{selector} > {threshold}\nand\n"
        f"  {template.format(w=window.short)}{selector} > {threshold}\n)"
    )


def _burn_alerts(
    template: str,
    budget: float,
    objective: float,
    slo: str,
    names: tuple[str, str],
    what: str,
    selector: str,
) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = []
    for severity, alert, for_ in (("page", names[0], "2m"), ("ticket", names[1], "15m")):
        windows = [w for w in BURN_WINDOWS if w.severity == severity]
        expr = "\nor\n".join(_burn_condition(template, selector, w, budget) for w in windows)
        spans = ", ".join(f"{w.long}/{w.short} at {w.factor:g}x" for w in windows)
        alerts.append(
            {
                "alert": alert,
                "expr": expr,
                "for": for_,
                "labels": {"severity": SEVERITY[severity], "slo": slo},
                "annotations": {
                    "summary": f"{{{{ $labels.namespace }}}}/{{{{ $labels.deployment }}}} is burning its "
                    f"{slo} error budget too fast",
                    "description": f"{what} The objective is {objective:.4g} "
                    f"(error budget {budget:.4g}); windows {spans}.",
                },
            }
        )
    return alerts


def recording_and_alert_rules(
    namespace: str,
    name: str,
    ttft_p95_ms: int,
    availability_target: float = 0.995,
    ttft_target_ratio: float = TTFT_OBJECTIVE_QUANTILE,
) -> dict[str, Any]:
    """A Prometheus rule file (``{"groups": [...]}``) for one SeedCoderDeployment.

    ``ttft_target_ratio`` is the share of requests that must get their first token
    within ``ttft_p95_ms`` (by default :data:`TTFT_OBJECTIVE_QUANTILE`, what
    ``spec.slo.ttftP95Ms`` means everywhere); ``availability_target`` the share answered without a 5xx.
    """
    for label, value in (
        ("availability_target", availability_target),
        ("ttft_target_ratio", ttft_target_ratio),
    ):
        if not 0 < value < 1:
            raise ValueError(f"{label} must be between 0 and 1 exclusive, got {value}")
    bound = threshold_bucket(ttft_p95_ms)
    sel = _sel(namespace, name)
    ttft_budget = 1 - ttft_target_ratio
    avail_budget = 1 - availability_target
    alerts = _burn_alerts(
        TTFT_SLOW_RATIO,
        ttft_budget,
        ttft_target_ratio,
        "ttft",
        (TTFT_FAST_BURN, TTFT_SLOW_BURN),
        f"Too many requests wait longer than {bound * 1000:g} ms for their first token.",
        sel,
    )
    alerts += _burn_alerts(
        AVAILABILITY_ERROR_RATIO,
        avail_budget,
        availability_target,
        "availability",
        (AVAILABILITY_FAST_BURN, AVAILABILITY_SLOW_BURN),
        "Too many requests end in a 5xx answer from the gateway.",
        sel,
    )
    alerts.append(
        {
            "alert": POOL_UNHEALTHY,
            "expr": f"max by ({_by(POOL)}) ({m.GATEWAY_POOL_HEALTHY}{sel}) == 0",
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Pool {{ $labels.pool }} of {{ $labels.namespace }}/{{ $labels.deployment }} "
                "fails the gateway's health checks",
                "description": "The gateway routes no traffic to this pool; the others carry its load.",
            },
        }
    )
    alerts.append(
        {
            "alert": POOL_UNDER_CAPACITY,
            "expr": f"max by ({_by(POOL)}) ({m.AUTOSCALER_READY_REPLICAS}{sel})\n<\n"
            f"max by ({_by(POOL)}) ({m.AUTOSCALER_DESIRED_REPLICAS}{sel})",
            "for": "30m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Pool {{ $labels.pool }} of {{ $labels.namespace }}/{{ $labels.deployment }} "
                "has had fewer ready replicas than the autoscaler wants for 30 minutes",
                "description": "Usually no free GPU of the pool's kind: check pending pods and nodes.",
            },
        }
    )
    return {
        "groups": [
            _recording_group(namespace, name, bound, ttft_target_ratio, availability_target),
            {"name": f"seedcoder-slo-alerts.{namespace}.{name}", "rules": _with_runbooks(alerts)},
        ]
    }


def prometheus_rule(
    namespace: str,
    name: str,
    ttft_p95_ms: int,
    availability_target: float = 0.995,
    ttft_target_ratio: float = TTFT_OBJECTIVE_QUANTILE,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The rules of :func:`recording_and_alert_rules` as a ``monitoring.coreos.com/v1`` PrometheusRule.

    ``labels`` are added to the object's labels (a Prometheus' ``ruleSelector`` often needs one).
    """
    meta_labels = {
        "app.kubernetes.io/name": "seedcoder",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "slo-rules",
        "app.kubernetes.io/managed-by": "seedcoder-operator",
        **(labels or {}),
    }
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": f"{name}-slo", "namespace": namespace, "labels": meta_labels},
        "spec": recording_and_alert_rules(
            namespace, name, ttft_p95_ms, availability_target, ttft_target_ratio
        ),
    }


def monitoring_objects(resource: SeedCoderDeployment) -> list[dict[str, Any]]:
    """What the operator writes for one resource when the Prometheus Operator is installed.

    The PrometheusRule (recording rules and burn-rate alerts for the resource's TTFT
    objective, ``spec.slo.ttftP95Ms``) and the PodMonitor that scrapes its gateway
    and Triton pods, both in the resource's namespace. The operator adds its labels
    and the ownerReference (``seedcoder.operator.hooks``). The API admits no
    objective below the gateway's smallest TTFT bucket, so every objective is
    measurable.
    """
    namespace, name = resource.metadata.namespace, resource.metadata.name
    return [
        prometheus_rule(namespace, name, resource.spec.slo.ttft_p95_ms),
        monitors.pod_monitor(namespace, name),
    ]


def operator_rules() -> dict[str, Any]:
    """Installation-wide alerts on the operator itself (shipped by the Helm chart)."""
    return {
        "groups": [
            {
                "name": "seedcoder-operator",
                "rules": _with_runbooks(
                    [
                        {
                            "alert": "SeedCoderReconcileErrors",
                            "expr": f"sum by (reason) (rate({m.OPERATOR_RECONCILE_ERRORS_TOTAL}[10m]))"
                            " > 0.05",
                            "for": "15m",
                            "labels": {"severity": "warning"},
                            "annotations": {
                                "summary": "SeedCoder reconciles keep failing: {{ $labels.reason }}",
                                "description": "Read the operator's log and the Ready condition of the "
                                "SeedCoderDeployments (kubectl get scd -A).",
                            },
                        },
                        {
                            "alert": "SeedCoderEngineBuildFailed",
                            "expr": f'sum by (arch) ({m.OPERATOR_ENGINE_BUILDS}{{state="Failed"}}) > 0',
                            "for": "5m",
                            "labels": {"severity": "warning"},
                            "annotations": {
                                "summary": "A TensorRT-LLM engine build for {{ $labels.arch }} failed",
                                "description": "Pools of that GPU architecture cannot serve the new engine; "
                                "see status.engines of the SeedCoderDeployment and the build Job's log.",
                            },
                        },
                        {
                            "alert": "SeedCoderReconcileSlow",
                            "expr": "histogram_quantile(0.99, sum by (le) "
                            f"(rate({m.OPERATOR_RECONCILE_SECONDS}_bucket[10m]))) > 30",
                            "for": "15m",
                            "labels": {"severity": "warning"},
                            "annotations": {
                                "summary": "The SeedCoder operator's reconciles take over 30 s (p99)",
                                "description": "The Kubernetes API may be slow or the operator overloaded.",
                            },
                        },
                    ]
                ),
            }
        ]
    }
