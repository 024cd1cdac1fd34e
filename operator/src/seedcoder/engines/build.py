"""The engine build program (``seedcoder build-engine``), run by the operator's build Job.

Why: one program turns a build plan into a published artifact in the engine cache,
stage by stage (plan, fetch, verify, quantize/build, repository, manifest,
publish), reporting progress where the operator can read it (see ``report``).
It is idempotent: a complete artifact for the key is never rebuilt, debris of an
interrupted build is removed first, and the result appears atomically (see
``artifact``). Exit codes: 0 succeeded (or already complete); 10 failed for a
reason the same inputs meet again (bad plan, missing or corrupt weights or
calibration data, a refused flag combination): the build Job's pod failure
policy fails the Job at once instead of retrying for hours on a GPU; 1 failed
unexpectedly (may be transient: retried); 2 bad arguments (not retried either).

The TensorRT-LLM step is behind ``builders.EngineBuilder``; the real one needs a
GPU and is not executed in this project's tests.
"""

from __future__ import annotations

import datetime as dt
import platform
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from seedcoder.engines import layout
from seedcoder.engines.artifact import Artifact, tree_size
from seedcoder.engines.buildcmd import BuildPlan, parse_build_args
from seedcoder.engines.buildenv import SCRATCH_MOUNT, unwritable
from seedcoder.engines.builders import GGUF_FILE, BuildError, BuildJob, EngineBuilder, builder_for
from seedcoder.engines.layout import MANIFEST
from seedcoder.engines.llamacpp_repo import ALL_LAYERS, AUTO_THREADS, llamacpp_repository_files, write_files
from seedcoder.engines.lora import SERVING_LORA_DIR
from seedcoder.engines.manifest import Manifest
from seedcoder.engines.profiles import get_profile, resolve_precision
from seedcoder.engines.repo_source import repository_source_digest
from seedcoder.engines.report import BuildReport, Stage
from seedcoder.engines.trtllm_repo import repository_files_for
from seedcoder.engines.weights import FetchError, fetch, verify

EXIT_PERMANENT = 10
"""The same inputs would fail again: the operator's build Job fails at once (podFailurePolicy)."""
EXIT_BAD_ARGUMENTS = 2
PERMANENT_EXIT_CODES = (EXIT_BAD_ARGUMENTS, EXIT_PERMANENT)

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
    "config.json",
)


class Reporter:
    """Prints each report as a JSON line and keeps the latest in the termination-message file."""

    def __init__(self, plan: BuildPlan, out: TextIO) -> None:
        self.plan = plan
        self.out = out
        self.path = Path(plan.termination_log)
        self.last: BuildReport | None = None
        self._warned = False

    def emit(self, report: BuildReport) -> None:
        self.last = report
        line = report.to_line()
        print(line, file=self.out, flush=True)
        try:
            self.path.write_text(line + "\n", encoding="utf-8")
        except OSError as exc:
            if not self._warned:
                print(f"Could not write the termination message {self.path}: {exc}", file=sys.stderr)
                self._warned = True

    def progress(self, stage: Stage, percent: int, message: str = "") -> None:
        self.emit(
            BuildReport(key=self.plan.key, state="Running", stage=stage, percent=percent, message=message)
        )

    def failed(self, message: str) -> None:
        stage: Stage = self.last.stage if self.last else "plan"
        percent = self.last.percent if self.last else 0
        self.emit(
            BuildReport(key=self.plan.key, state="Failed", stage=stage, percent=percent, message=message)
        )


class Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(time.monotonic() - start, 3)


def check_plan(plan: BuildPlan) -> None:
    """Refuse a plan the target GPU cannot run (before touching anything)."""
    try:
        profile = get_profile(plan.gpu, plan.inputs.runtime)
    except ValueError as exc:
        raise BuildError(str(exc)) from None
    if profile.arch != plan.inputs.arch or profile.runtime != plan.inputs.runtime:
        raise BuildError(
            f"{plan.gpu} is {profile.arch}/{profile.runtime}, but the plan is for "
            f"{plan.inputs.arch}/{plan.inputs.runtime}"
        )
    resolve_precision(profile, plan.inputs.precision)
    own = repository_source_digest()
    if plan.inputs.repository_source != own:
        raise BuildError(
            f"the plan's repository source {plan.inputs.repository_source} is not this build program's "
            f"({own}): the operator and the build image run different seedcoder versions, so the engine "
            "key would not describe the repository built here; use the build image of the operator's version"
        )


def _repository(plan: BuildPlan) -> dict[str, str]:
    """The repository's files; they name the engine at its published path (``layout``)."""
    if plan.inputs.runtime == "tensorrt-llm":
        return repository_files_for(plan)
    limits = plan.inputs.limits
    return llamacpp_repository_files(
        f"{layout.engine_dir(plan.cache_dir, plan.key)}/{GGUF_FILE}",
        n_ctx=limits.max_seq_len,
        n_threads=AUTO_THREADS,  # one engine may serve pools of different sizes: each pod's CPUs decide
        max_tokens_limit=limits.max_output_len,
        n_gpu_layers=0 if plan.inputs.arch == "cpu" else ALL_LAYERS,  # CUDA image: every layer on the GPU
        lora_dir=SERVING_LORA_DIR,
    )


def _copy_tokenizer(model_dir: Path, dest: Path) -> None:
    dest.mkdir()
    if not (model_dir / "tokenizer.json").is_file():
        raise BuildError(f"{model_dir} has no tokenizer.json (the Seed-Coder tokenizer is needed to serve)")
    for name in TOKENIZER_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, dest / name)


def run_build(plan: BuildPlan, reporter: Reporter, builder: EngineBuilder) -> int:
    started = time.monotonic()
    reporter.progress("plan", 0, f"Planning engine {plan.key} for {plan.gpu} ({plan.inputs.precision}).")
    check_plan(plan)
    if bad := unwritable():
        raise BuildError(
            "cannot write the build's cache directories: " + "; ".join(bad) + f". Mount a writable "
            f"volume there (the operator's build Job mounts one at {SCRATCH_MOUNT})"
        )
    artifact = Artifact(Path(plan.cache_dir), plan.key)
    if artifact.is_complete():
        manifest = Manifest.model_validate_json((artifact.final_dir / MANIFEST).read_text(encoding="utf-8"))
        reporter.emit(
            BuildReport(
                key=plan.key,
                state="Succeeded",
                stage="done",
                percent=100,
                message=f"Engine {plan.key} was already complete; nothing rebuilt.",
                manifest=manifest.summary(reused=True),
            )
        )
        return 0
    removed = artifact.clean_partials()
    if removed:
        reporter.progress("plan", 2, f"Removed {len(removed)} partial artifact(s) of an interrupted build.")
    timer = Timer()
    with artifact.locked_workdir() as workdir:
        try:
            with timer.stage("fetch"):
                reporter.progress(
                    "fetch", 5, f"Fetching weights from {plan.source.kind}:{plan.source.location}."
                )
                model_dir = fetch(plan.source, plan.inputs.revision, Path(plan.cache_dir) / layout.DOWNLOADS)
            with timer.stage("verify"):
                reporter.progress("verify", 15, "Verifying checksums.")
                required = ("config.json",) if plan.inputs.runtime == "tensorrt-llm" else ()
                weights = verify(model_dir, required=required)
            with timer.stage("build"):
                (workdir / layout.ENGINE).mkdir()
                builder.build(BuildJob(plan, model_dir, workdir / layout.ENGINE, reporter.progress))
            with timer.stage("repository"):
                reporter.progress("repository", 90, "Writing the Triton model repository.")
                if plan.inputs.runtime == "tensorrt-llm":
                    _copy_tokenizer(model_dir, workdir / layout.TOKENIZER)
                files = _repository(plan)
                write_files(workdir / layout.REPOSITORY, files)
            reporter.progress("manifest", 95, "Writing the manifest.")
            manifest = Manifest(
                key=plan.key,
                gpu=plan.gpu,
                inputs=plan.inputs,
                source=f"{plan.source.kind}:{plan.source.location}",
                weights=weights,
                engine_bytes=tree_size(workdir / layout.ENGINE),
                repository_models=sorted({rel.split("/", 1)[0] for rel in files}),
                stage_seconds=timer.seconds,
                build_seconds=round(time.monotonic() - started, 3),
                created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                executed_on=platform.node(),
            )
            (workdir / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
            reporter.progress("publish", 98, f"Publishing {artifact.final_dir}.")
            published = artifact.publish(workdir)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
    message = "Built and published." if published else "Another build published the same engine first."
    reporter.emit(
        BuildReport(
            key=plan.key,
            state="Succeeded",
            stage="done",
            percent=100,
            message=message,
            manifest=manifest.summary(),
        )
    )
    return 0


def main(
    argv: list[str] | None = None, *, builder: EngineBuilder | None = None, out: TextIO | None = None
) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args in (["-h"], ["--help"]):
        print(__doc__)
        print("Arguments: see seedcoder.engines.buildcmd.build_command (the operator writes them).")
        return 0
    try:
        plan = parse_build_args(args)
    except ValueError as exc:
        print(f"seedcoder build-engine: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    reporter = Reporter(plan, out or sys.stdout)
    try:
        return run_build(plan, reporter, builder or builder_for(plan))
    except (BuildError, FetchError, ValueError, KeyError) as exc:
        reporter.failed(str(exc).strip("'\""))
        return EXIT_PERMANENT
    except Exception as exc:  # the operator must always get a result
        reporter.failed(f"unexpected error: {exc!r}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
