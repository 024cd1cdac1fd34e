"""The sizing model (developers per card at the SLO): its behaviour, and that the README quotes it.

The sizing runs the autoscaling benchmark's replica model; these tests check it
against the one figure that model was calibrated on (an H100 FP8 replica holds
about 13 requests/s at p95 300 ms on the code trace's mix), that the consumer
cards order as their compute and bandwidth say, and that the README's sizing
table and the example's comment say what the committed results say.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from seedcoder.autoscaler.priors import prior_for

from benchmarks.autoscaling.latency import PROFILES
from benchmarks.sizing import capacity_at_slo, consumer_profiles, developers

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "sizing.json"


def _mix(n: int = 4000, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A code-completion-like length mix: log-normal prompts around 1,500 tokens, short outputs."""
    rng = np.random.default_rng(seed)
    prompt = np.clip(rng.lognormal(np.log(1500), 0.8, n), 50, 8000).astype(int)
    gen = np.clip(rng.lognormal(np.log(15), 0.9, n), 1, 256).astype(int)
    return prompt, gen


def test_the_harness_gives_the_calibrated_h100_capacity() -> None:
    prompt, gen = _mix()
    rps = capacity_at_slo(PROFILES["h100-fp8"], 0.300, prompt, gen)
    assert 8.0 < rps < 20.0, rps  # benchmarks/README.md: about 13 requests/s on the trace's mix


def test_consumer_cards_order_by_their_speed_and_the_slo() -> None:
    prompt, gen = _mix()
    clipped = np.minimum(prompt, 2048)
    cards = consumer_profiles()
    rtx = capacity_at_slo(cards["rtx4090-int4-awq"], 1.0, clipped, gen)
    l4 = capacity_at_slo(cards["l4-int4-awq"], 1.0, clipped, gen)
    h100 = capacity_at_slo(PROFILES["h100-fp8"], 1.0, clipped, gen)
    assert 0 < l4 < rtx < h100
    assert capacity_at_slo(cards["rtx4090-int4-awq"], 1.5, clipped, gen) > rtx
    # an SLO below the card's unloaded prefill of the longest prompts: no load meets it
    assert capacity_at_slo(cards["l4-int4-awq"], 0.3, clipped, gen) == 0.0


def test_the_readme_and_the_example_quote_the_committed_results() -> None:
    doc = json.loads(RESULTS.read_text(encoding="utf-8"))
    assert doc["kind"] == "model"
    rows = {(r["profile"], r["slo_ms"], r["context_budget"]): r for r in doc["rows"]}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    flat = " ".join(readme.split())
    assert "from the latency model in `benchmarks/`" in flat
    assert "not a measurement)**" in flat
    for label, key in (
        ("H100 80 GB (FP8) | 300 ms | 8,192 tokens", ("h100-fp8", 300, 8192)),
        ("RTX 4090 24 GB (INT4 AWQ) | 1,000 ms | 2,048 tokens", ("rtx4090-int4-awq", 1000, 2048)),
        ("L4 24 GB (INT4 AWQ) | 1,000 ms | 2,048 tokens", ("l4-int4-awq", 1000, 2048)),
    ):
        row = rows[key]
        match = re.search(rf"\| {re.escape(label)} \| ([0-9.]+) \| about ([0-9]+) \|", readme)
        assert match, f"README sizing line missing: {label}"
        assert float(match.group(1)) == pytest.approx(row["rps_at_slo"], abs=0.05), label
        assert int(match.group(2)) == row["developers_per_card"] == developers(row["rps_at_slo"])
    example = (ROOT / "manifests" / "examples" / "rtx4090-team.yaml").read_text(encoding="utf-8")
    per_card = rows[("rtx4090-int4-awq", 1000, 2048)]["developers_per_card"]
    assert f"about {per_card} developers per card" in example
    assert f"four cards serve about {4 * per_card}" in example


@pytest.mark.parametrize(("gpu", "profile"), [("RTX4090", "rtx4090-int4-awq"), ("L4", "l4-int4-awq")])
def test_the_autoscalers_prior_for_a_24gb_card_is_the_sizing_model(gpu: str, profile: str) -> None:
    """Before anything is observed, the autoscaler expects what the sizing model says at 1 s."""
    rows = {
        (r["profile"], r["slo_ms"], r["context_budget"]): r for r in json.loads(RESULTS.read_text())["rows"]
    }
    prior = prior_for(gpu)
    assert prior.precision == "int4-awq"
    assert prior.rps_for_slo(1000) == pytest.approx(rows[(profile, 1000, 2048)]["rps_at_slo"], rel=0.05)
    # prompts the card cannot prefill inside the SLO go to another pool
    assert prior.servable_prompt_tokens(1000) < 8192
