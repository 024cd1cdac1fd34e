"""The fine-tuning loop on the CPU, end to end: feedback -> data set -> LoRA -> GGUF -> gate -> served.

What runs, all real, on the demo model (Gemma 3 270M, Q4_K_M GGUF):

1. ``tritonserver`` with the llama.cpp model and an adapter folder, and the
   gateway in front of it (``python -m seedcoder.gateway.main``, as a pod runs it).
2. Data: holes in this repository's own Python code (``finetune_data``) are
   requested through ``/v1/completions`` and the kept code is reported on
   ``/v1/feedback``; ``seedcoder dataset build`` turns the gateway's feedback
   records into a train split and held-out FIM tasks, split by file.
3. ``seedcoder finetune train`` (PEFT LoRA, transformers loading the GGUF
   weights) in a cached CPU training environment (``finetune_env``); the
   training time is measured. Gemma has no FIM tokens, so the adapter must learn
   Seed-Coder's SPM template, which the gateway renders as text.
4. llama.cpp's ``convert_lora_to_gguf.py`` turns the PEFT adapter into a GGUF
   LoRA; its base is the GGUF model loaded by transformers and saved in HF form.
5. ``seedcoder evaluate`` through the gateway: ``seed-coder-8b-base`` (the base)
   and ``seed-coder-8b-base:<adapter>`` (the adapter, chosen per request by the
   ``model`` name) on the held-out tasks and the public regression set; then the
   gate (``seedcoder.finetune.gate``) decides with the resource's default margins.

Run-to-run spread: decoding is greedy, so one model scores identically on every
run; the spread that matters is training's. One adapter is trained per
``--seeds`` value (each a different sample order and LoRA initialisation; the
default is two, about 12 minutes of training on two cores) and the spread is the range of
their scores; a paired
bootstrap over held-out tasks gives a 95% interval of the gain as well.

"Hole filled": the first line of the answer equals the first line of the
expected middle (the model put the right code in the hole, whatever it wrote
after it); exact match also needs it to stop there.

Writes ``benchmarks/results/finetune.json`` and ``finetune.md``. Run:
``make bench-finetune`` (``nice -n 19 python -m benchmarks.finetune_bench``): the
first run creates the training environment (~1 GB, a few minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from seedcoder.api.finetune import GateSpec
from seedcoder.evaluation import metrics
from seedcoder.finetune.gate import decide, scores_from_summary
from seedcoder_dev.localstack.triton import (
    TritonServer,
    cache_dir,
    gguf_model_path,
    write_llamacpp_repository,
)

from benchmarks.finetune_data import record, repository_holes
from benchmarks.finetune_env import cuda_packages, lora_converter, pins, training_python
from tests.fixtures.gateway import MODEL_NAME, GatewayProcess, gateway_config

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SRC = ROOT / "operator" / "src"
GATE = GateSpec.model_validate({"apiKeySecretRef": "evaluation-key"})
"""The resource's default margins (the Secret is not used here: the key is the gateway's test key)."""


def log(message: str) -> None:
    print(f"[bench-finetune {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def seedcoder_cli(python: Path, args: list[str], out: Path | None = None) -> str:
    """``seedcoder ARGS`` with this checkout's code in ``python`` (the product's or the training one)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(ROOT)])}
    proc = subprocess.run([str(python), "-m", "seedcoder.cli", *args], capture_output=True, text=True,
                          env=env, check=False)  # fmt: skip
    if out is not None:
        out.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"seedcoder {args[0]} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return proc.stdout


def run_python(python: Path, args: list[str], what: str) -> str:
    proc = subprocess.run([str(python), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-3000:]}")
    return proc.stdout


HF_BASE = """
import sys
from transformers import AutoConfig, AutoTokenizer
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
folder, name, out = sys.argv[1:4]
AutoTokenizer.from_pretrained(folder, gguf_file=name).save_pretrained(out)
config = AutoConfig.from_pretrained(folder, gguf_file=name)
config.architectures = [MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[config.model_type]]  # names the converter's class
config.save_pretrained(out)
"""


def hf_base(python: Path, gguf: Path, out: Path) -> None:
    """The GGUF model's configuration and tokenizer in Hugging Face form, as transformers reads them
    from the GGUF file: the conversion's ``--base`` (it needs the configuration, not the weights)."""
    run_python(python, ["-c", HF_BASE, str(gguf.parent), gguf.name, str(out)], "saving the HF base")


def convert(python: Path, adapter: Path, base: Path, out: Path) -> None:
    script = lora_converter()
    args = [str(script), "--base", str(base), "--outtype", "f32", "--outfile", str(out), str(adapter)]
    run_python(python, args, "convert_lora_to_gguf.py")


def first_line(text: str) -> str:
    lines = metrics.normalise(text).splitlines()
    return lines[0].strip() if lines else ""


def hole_filled(report: dict[str, Any], tasks: dict[str, dict[str, Any]]) -> float:
    results = report["results"]
    hits = [first_line(r["generated"]) == first_line(tasks[r["task_id"]]["middle"]) for r in results]
    return sum(hits) / len(hits)


def paired_bootstrap(base: list[float], tuned: list[float], rounds: int = 2000) -> tuple[float, float]:
    """95% interval of mean(tuned - base) over tasks resampled with replacement (seeded)."""
    rng = random.Random(0)
    deltas = [t - b for b, t in zip(base, tuned, strict=True)]
    means = sorted(statistics.fmean(rng.choices(deltas, k=len(deltas))) for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


def evaluate(
    gw: GatewayProcess, model: str, sets: list[str], work: Path, max_tokens: int, limit: int = 0
) -> dict[str, Any]:
    name = model.replace(":", "_")
    work.mkdir(parents=True, exist_ok=True)
    key = work / "key"
    key.write_text(gw.api_key + "\n")
    args = ["evaluate", "--endpoint", gw.url + "/v1", "--model", model, "--api-key-file", str(key),
            "--max-tokens", str(max_tokens), "--limit", str(limit), "--json", str(work / f"{name}.json"),
            "--summary", str(work / f"{name}.summary.json")]  # fmt: skip
    for spec in sets:
        args += ["--tasks", spec]
    started = time.monotonic()
    seedcoder_cli(Path(sys.executable), args)
    report: dict[str, Any] = json.loads((work / f"{name}.json").read_text())["runs"][0]
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--per-file", type=int, default=1, help="holes per source file")
    p.add_argument("--max-holes", type=int, default=120, help="recorded completions at most (seeded choice)")
    p.add_argument("--held-out-fraction", type=float, default=0.25)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--max-sequence-tokens", type=int, default=192)
    p.add_argument("--max-tokens", type=int, default=24, help="tokens per evaluated completion")
    p.add_argument("--limit", type=int, default=0, help="tasks per evaluated set (0: all; smoke runs)")
    p.add_argument("--seeds", default="0,1", help="one adapter per training seed (their spread is measured)")
    p.add_argument("--keep", type=Path, help="keep the work folder here (default: a temporary one)")
    p.add_argument("--repeat", action="store_true", help="score the base twice (greedy: must be identical)")
    p.add_argument("--render", action="store_true", help="only rewrite finetune.md from finetune.json")
    args = p.parse_args()
    if args.render:
        result = json.loads((RESULTS / "finetune.json").read_text())
        (RESULTS / "finetune.md").write_text(markdown(result, sorted(result["training"])))
        return
    seeds = [int(s) for s in args.seeds.split(",") if s]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop Triton and the gateway on the way out
    timings: dict[str, float] = {}
    work = args.keep or Path(tempfile.mkdtemp(prefix="seedcoder-finetune-"))
    work.mkdir(parents=True, exist_ok=True)
    adapters_root = work / "adapters"
    adapters_root.mkdir(exist_ok=True)

    t = time.monotonic()
    python = training_python()
    converter = lora_converter()
    timings["environment_s"] = time.monotonic() - t
    model = gguf_model_path()
    log(f"training environment {python.parent.parent.name}; converter {converter.name}")

    t = time.monotonic()
    repository = write_llamacpp_repository(work / "repository", model, n_threads=2, lora_dir=adapters_root)
    server = TritonServer()
    server.start(repository, work / "triton")
    gw: GatewayProcess | None = None
    try:
        server.wait_ready(timeout=300, models=("seedcoder", "seedcoder_tokenize"))
        names = [f"seed{s}" for s in seeds]
        adapters = [{"name": n, "gguf": f"{n}/adapter.gguf"} for n in names]
        cfg = gateway_config(server.grpc_url, work / "gateway", adapters=adapters, cache_max_entries=0,
                             backend_timeout_s=120.0)  # fmt: skip
        gw = GatewayProcess(cfg, work / "gateway")
        gw.start(timeout=120)
        timings["serving_start_s"] = time.monotonic() - t

        # -- data: accepted completions through the real gateway, then the data set
        t = time.monotonic()
        holes = repository_holes(ROOT, "operator/src/seedcoder", args.per_file)
        if len(holes) > args.max_holes:
            holes = sorted(random.Random(0).sample(holes, args.max_holes), key=lambda h: h.path)
        recorded = sum(1 for _ in record(gw.url, gw.api_key, MODEL_NAME, holes))
        timings["recording_s"] = time.monotonic() - t
        t = time.monotonic()
        manifest = json.loads(seedcoder_cli(Path(sys.executable), [
            "dataset", "build", "--feedback", str(gw.feedback_dir), "--out", str(work / "datasets"),
            "--held-out-fraction", str(args.held_out_fraction)]))  # fmt: skip
        snapshot = work / "datasets" / manifest["version"]
        timings["dataset_s"] = time.monotonic() - t
        log(f"recorded {recorded} completions; data set {manifest['counts']}")

        # -- training, one adapter per seed, then GGUF conversion
        t = time.monotonic()
        hf = work / "hf-base"
        hf_base(python, model, hf)
        timings["hf_base_s"] = time.monotonic() - t
        trained: dict[str, dict[str, Any]] = {}
        for seed, name in zip(seeds, names, strict=True):
            t = time.monotonic()
            peft_dir = work / "peft" / name
            seedcoder_cli(python, [
                "finetune", "train", "--train", str(snapshot / "train.jsonl"),
                "--base-model", str(model.parent), "--gguf-file", model.name,
                "--allow-split-fim-tokens", "--out", str(peft_dir),
                "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--rank", str(args.rank),
                "--alpha", str(2 * args.rank), "--learning-rate", str(args.learning_rate),
                "--max-sequence-tokens", str(args.max_sequence_tokens), "--seed", str(seed)],
                out=work / f"train-{name}.log")  # fmt: skip
            training = json.loads((peft_dir / "training.json").read_text())
            training["wall_s"] = round(time.monotonic() - t, 1)
            t = time.monotonic()
            (adapters_root / name).mkdir(exist_ok=True)
            gguf_adapter = adapters_root / name / "adapter.gguf"
            convert(python, peft_dir, hf, gguf_adapter)
            training["conversion_s"] = round(time.monotonic() - t, 1)
            training["peft_adapter_bytes"] = (peft_dir / "adapter_model.safetensors").stat().st_size
            training["gguf_adapter_bytes"] = gguf_adapter.stat().st_size
            trained[name] = training
            loss = f"{training['first_loss']:.2f} -> {training['final_loss']:.2f}"
            log(f"{name}: {training['seconds']} s, loss {loss}")

        # -- evaluation through the gateway, base and each adapter by model name
        sets = ["public", f"heldout={snapshot / 'heldout.jsonl'}"]
        heldout_tasks = {
            json.loads(line)["task_id"]: json.loads(line)
            for line in (snapshot / "heldout.jsonl").read_text().splitlines()
        }
        from seedcoder.evaluation.public import public_tasks

        all_tasks = {**heldout_tasks, **{t.task_id: t.model_dump() for t in public_tasks()}}
        evals: dict[str, dict[str, Any]] = {}
        for served in [MODEL_NAME, *(f"{MODEL_NAME}:{n}" for n in names)]:
            evals[served] = evaluate(gw, served, sets, work, args.max_tokens, args.limit)
            log(f"evaluated {served} in {evals[served]['seconds']} s")
        # the base once more: greedy decoding must repeat itself (the evaluation's own spread)
        repeat = (
            None
            if not args.repeat
            else evaluate(
                gw,
                MODEL_NAME,
                [f"heldout={snapshot / 'heldout.jsonl'}"],
                work / "repeat",
                args.max_tokens,
                args.limit,
            )
        )
    finally:
        if gw is not None:
            gw.stop()
        server.stop()

    def scores(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out = {}
        for s in report["sets"]:
            out[s["name"]] = {
                k: s[k] for k in ("tasks", "exact_match", "edit_similarity", "pass_at_1", "tested")
            }
            out[s["name"]]["hole_filled"] = hole_filled(s, all_tasks)
            out[s["name"]]["median_latency_s"] = round(s["median_latency_s"], 3)
        return out

    table = {served: scores(r) for served, r in evals.items()}
    per_task = {served: {s["name"]: [x["edit_similarity"] for x in s["results"]] for s in r["sets"]}
                for served, r in evals.items()}  # fmt: skip
    base_generated = [x["generated"] for x in evals[MODEL_NAME]["sets"][1]["results"]]
    repeat_generated = None if repeat is None else [x["generated"] for x in repeat["sets"][0]["results"]]
    gates = {}
    for name in names:
        served = f"{MODEL_NAME}:{name}"
        summary = {
            "runs": [{"model": m, "sets": {k: v for k, v in table[m].items()}} for m in (MODEL_NAME, served)]
        }
        decision = decide(scores_from_summary(json.dumps(summary), MODEL_NAME, served), GATE)
        low, high = paired_bootstrap(per_task[MODEL_NAME]["heldout"], per_task[served]["heldout"])
        gates[name] = {
            **decision.model_dump(by_alias=False),
            "heldout_gain_ci95": [round(low, 4), round(high, 4)],
        }

    def spread(metric: str, task_set: str) -> float:
        values = [table[f"{MODEL_NAME}:{n}"][task_set][metric] for n in names]
        return round(max(values) - min(values), 4)

    result = {
        "what": "CPU fine-tuning loop: feedback -> data set -> PEFT LoRA -> GGUF LoRA -> gate -> served",
        "machine": {"cpus": os.cpu_count(), "load_avg_end": os.getloadavg()},
        "model": model.name,
        "training_environment": {"pins": list(pins()), "cuda_packages": cuda_packages(python)},
        "data": {
            "holes": len(holes),
            "recorded": recorded,
            "manifest_counts": manifest["counts"],
            "snapshot": manifest["version"],
        },
        "training": trained,
        "scores": table,
        "spread_between_seeds": {
            f"{s}.{m}": spread(m, s)
            for s in ("heldout", "public")
            for m in ("edit_similarity", "exact_match", "hole_filled")
        },
        "base_repeat_identical": None if repeat_generated is None else base_generated == repeat_generated,
        "gate": gates,
        "gate_spec": GATE.model_dump(by_alias=True, exclude={"api_key_secret_ref"}),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "evaluation_s": {k: v["seconds"] for k, v in evals.items()},
        "settings": vars(args) | {"keep": str(args.keep) if args.keep else None},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "finetune.json").write_text(scrub(json.dumps(result, indent=2, default=str), work) + "\n")
    (RESULTS / "finetune.md").write_text(markdown(result, names))
    print((RESULTS / "finetune.md").read_text())
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


def scrub(text: str, work: Path) -> str:
    """The results without this machine's folders (the work folder and the cache)."""
    return text.replace(str(work), "<work>").replace(str(cache_dir()), "$SEEDCODER_CACHE")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def markdown(r: dict[str, Any], names: list[str]) -> str:
    base = MODEL_NAME
    rows = [
        "| model | held-out EM | held-out ES | held-out hole filled "
        "| public EM | public ES | public pass@1 | public hole filled |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for served in [base, *(f"{base}:{n}" for n in names)]:
        h, pub = r["scores"][served]["heldout"], r["scores"][served]["public"]
        rows.append(
            f"| `{served}` | {_pct(h['exact_match'])} | {h['edit_similarity']:.3f} "
            f"| {_pct(h['hole_filled'])} "
            f"| {_pct(pub['exact_match'])} | {pub['edit_similarity']:.3f} | {_pct(pub['pass_at_1'])} "
            f"| {_pct(pub['hole_filled'])} |"
        )
    lines = ["# Fine-tuning on CPU: before/after", "", *rows, ""]
    counts = r["data"]["manifest_counts"]
    first = r["training"][names[0]]
    h_tasks = r["scores"][base]["heldout"]["tasks"]
    p_tasks = r["scores"][base]["public"]["tasks"]
    lines += [
        f"Data: {r['data']['recorded']} completions recorded through the gateway's feedback endpoint "
        f"from this repository's Python code; data set: {counts.get('train')} training samples, "
        f"{h_tasks} held-out tasks (files never trained on); public set: {p_tasks} tasks.",
        "",
        "| adapter | steps | samples | training (s) | s/step | loss first -> last "
        "| PEFT adapter | GGUF adapter | conversion (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        t = r["training"][n]
        lines.append(
            f"| {n} | {t['config']['steps']} | {t['samples']} | {t['seconds']} | {t['seconds_per_step']} "
            f"| {t['first_loss']:.2f} -> {t['final_loss']:.2f} | {t['peft_adapter_bytes'] / 1e6:.2f} MB "
            f"| {t['gguf_adapter_bytes'] / 1e6:.2f} MB | {t['conversion_s']} |"
        )
    lines += ["", "Gate (held-out ES gain >= margin, public ES drop <= margin):", ""]
    for n in names:
        g = r["gate"][n]
        lo, hi = g["heldout_gain_ci95"]
        verdict = "publish" if g["publish"] else "not published"
        lines.append(
            f"- {n}: **{g['reason']}** ({verdict}): {g['message']} Paired bootstrap 95% interval "
            f"of the held-out ES gain: [{lo:+.3f}, {hi:+.3f}]."
        )
    spread, env = r["spread_between_seeds"], r["training_environment"]
    if len(names) > 1:
        seeds = (
            f"Run-to-run spread between training seeds: held-out ES {spread['heldout.edit_similarity']:.3f}, "
            f"EM {100 * spread['heldout.exact_match']:.1f} pts; "
            f"public ES {spread['public.edit_similarity']:.3f}."
        )
    else:
        seeds = (
            "One training seed (time on two shared cores): the spread between trainings is not measured; "
            "the bootstrap interval above is the spread over held-out tasks."
        )
    lines += [
        "",
        seeds
        + (
            ""
            if r["base_repeat_identical"] is None
            else " Evaluation itself is repeatable: the base "
            f"answered the held-out set a second time identically: {r['base_repeat_identical']}."
        ),
        "",
        f"Times (s): {json.dumps(r['timings_s'])}; evaluation {json.dumps(r['evaluation_s'])}. "
        f"First training: {first['seconds']} s wall in `seedcoder finetune train` "
        f"({json.dumps(first['seconds_by_phase'])}), on {r['machine']['cpus']} CPU cores "
        "shared with other work, nice 19.",
        "",
        f"Training environment: {', '.join(env['pins'][:1] + env['pins'][-7:-1])}; "
        f"CUDA packages installed: {env['cuda_packages'] or 'none'}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
