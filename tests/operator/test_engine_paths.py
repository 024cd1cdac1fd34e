"""The build Job and the Triton Deployment agree with the build program on where an engine lives.

The build program publishes ``<cache>/engines/<key>/`` and its model repository
names the engine by absolute path, so Triton must mount the cache at the build
Job's path and start on the repository the program wrote. These tests read the
paths back out of the manifests the operator builds (the Job's command is parsed
by the build program's own parser) and compare them with ``seedcoder.engines.layout``.
"""

from __future__ import annotations

from typing import Any

from seedcoder.engines import layout
from seedcoder.engines.buildcmd import parse_build_args
from seedcoder.engines.trtllm_repo import repository_files_for
from seedcoder.operator.objects import names
from seedcoder.operator.objects.desired import Observed, plan

from tests.operator.helpers import SETTINGS, all_built, parsed


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = manifest["spec"]["template"]["spec"]["containers"][0]
    return container


def _cache_mount(manifest: dict[str, Any]) -> dict[str, Any]:
    pod = manifest["spec"]["template"]["spec"]
    claim = next(v for v in pod["volumes"] if v["name"] == "engine-cache")
    assert "persistentVolumeClaim" in claim
    mount: dict[str, Any] = next(
        m for m in _container(manifest)["volumeMounts"] if m["name"] == "engine-cache"
    )
    return mount


def test_triton_mounts_the_cache_where_the_build_job_wrote_it_and_serves_its_repository() -> None:
    scd, pools = parsed()
    new_jobs = plan(scd, pools, Observed(), SETTINGS).new_jobs
    jobs = {j["metadata"]["labels"][names.LABEL_ENGINE_KEY]: j for j in new_jobs}
    tritons = [
        o
        for o in plan(scd, pools, all_built(pools), SETTINGS).owned
        if o["kind"] == "Deployment"
        and o["metadata"]["labels"][names.LABEL_COMPONENT] == names.COMPONENT_TRITON
    ]
    assert len(tritons) == len(pools) == 2
    for triton in tritons:
        key = triton["metadata"]["labels"][names.LABEL_ENGINE_KEY]
        job = jobs[key]
        build_plan = parse_build_args(_container(job)["command"])
        assert build_plan.key == key
        assert build_plan.cache_dir == layout.CACHE_MOUNT

        job_mount, triton_mount = _cache_mount(job), _cache_mount(triton)
        assert job_mount["mountPath"] == triton_mount["mountPath"] == build_plan.cache_dir
        assert not job_mount.get("readOnly")
        assert triton_mount["readOnly"] is True

        args = _container(triton)["args"]
        assert f"--model-repository={layout.repository_dir(build_plan.cache_dir, key)}" in args
        assert layout.repository_dir(build_plan.cache_dir, key) == f"{build_plan.output_dir}/triton"

        # what the generated repository points at is inside Triton's (read-only) mount
        config = repository_files_for(build_plan)["tensorrt_llm/config.pbtxt"]
        engine = layout.engine_dir(build_plan.cache_dir, key)
        assert f'string_value: "{engine}"' in config
        assert engine.startswith(triton_mount["mountPath"] + "/")
