"""The llama.cpp runtime on the real tritonserver: streaming, stop words, cancellation, metrics.

Runs the generated model repository (``seedcoder`` + ``seedcoder_tokenize``) with a
real GGUF model (Gemma 3 270M: no Seed-Coder FIM tokens, so FIM prompts reach it as
plain text). Greedy decoding makes generations repeatable, which the stop-word
test uses to choose a stop string the model really produces.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from seedcoder.metricnames import (
    LLAMACPP_CANCELLED_TOTAL,
    LLAMACPP_GENERATED_TOKENS_TOTAL,
    TRITON_REQUEST_FAILURE,
    TRITON_REQUEST_SUCCESS,
)
from seedcoder_dev.localstack.triton import TritonServer

from tests.engines.tritonio import StreamingClient, make_inputs, metric, scrape, wait_for_metric

pytestmark = [pytest.mark.triton, pytest.mark.slow]

PROMPT = "def fibonacci(n):\n"


@pytest.fixture
def client(triton_server: TritonServer) -> Iterator[StreamingClient]:
    c = StreamingClient(triton_server.grpc_url)
    yield c
    c.close()


def test_streams_text_token_by_token(client: StreamingClient) -> None:
    out = client.generate(make_inputs(PROMPT, 24))
    assert all(r.error is None for r in out.replies), out.replies
    texts = [r for r in out.replies if r.text]
    assert len(texts) >= 5, "expected many small deltas, not one block"
    counts = [r.output_token_count for r in out.replies]
    assert counts == sorted(counts)
    assert out.last.final
    assert out.last.output_token_count is not None
    assert out.last.output_token_count <= 24
    assert out.last.finish_reason in {"stop", "length"}
    assert out.last.input_token_count is not None
    assert out.last.input_token_count > 3
    assert out.text.strip(), "the model produced no text"
    ttft = texts[0].at - out.started
    total = out.last.at - out.started
    print(
        f"\nllama.cpp on Triton (Gemma 3 270M Q4_K_M): TTFT {ttft * 1000:.0f} ms, "
        f"{out.last.output_token_count} tokens in {total:.2f} s "
        f"({(out.last.output_token_count - 1) / max(total - ttft, 1e-9):.0f} tok/s after the first)"
    )


def test_unstreamed_response_is_the_whole_streamed_text(client: StreamingClient) -> None:
    streamed = client.generate(make_inputs(PROMPT, 20))
    whole = client.generate(make_inputs(PROMPT, 20, stream=False))
    assert len(whole.replies) == 1
    assert whole.last.final
    assert whole.text == streamed.text
    assert whole.last.output_token_count == streamed.last.output_token_count


def test_stop_word_ends_generation_and_is_excluded(client: StreamingClient) -> None:
    full = client.generate(make_inputs(PROMPT, 40))
    text = full.text
    assert full.last.output_token_count is not None
    # a stop string the model really produces, well after the start
    stop = next(text[i : i + 3] for i in range(len(text) // 2, len(text) - 3) if text[i : i + 3].strip())
    cut = text.index(stop)
    stopped = client.generate(make_inputs(PROMPT, 40, stop_words=["<never-produced>", stop]))
    assert stopped.text == text[:cut]
    assert stop not in stopped.text
    assert stopped.last.finish_reason == "stop"
    assert stopped.last.output_token_count is not None
    assert stopped.last.output_token_count < full.last.output_token_count


def test_log_probs_when_asked(client: StreamingClient) -> None:
    out = client.generate(make_inputs(PROMPT, 8, stream=False, return_log_probs=True))
    assert out.last.cum_log_prob is not None
    assert out.last.cum_log_prob <= 0.0
    plain = client.generate(make_inputs(PROMPT, 8, stream=False))
    assert plain.last.cum_log_prob is None


def test_cancelling_mid_stream_stops_generation_in_the_model(triton_server: TritonServer) -> None:
    before = scrape(triton_server.metrics_url)
    c = StreamingClient(triton_server.grpc_url)
    c.send(make_inputs("Write a long story about a dragon.\n", 500, temperature=0.8))
    got = [c.replies.get(timeout=60) for _ in range(5)]
    assert all(r.error is None and not r.final for r in got)
    c.cancel()
    c.client.close()
    time.sleep(1.0)  # let the model see the cancellation at its next token
    at_cancel = scrape(triton_server.metrics_url)
    time.sleep(2.0)
    later = scrape(triton_server.metrics_url)
    generated = metric(at_cancel, LLAMACPP_GENERATED_TOKENS_TOTAL) - metric(
        before, LLAMACPP_GENERATED_TOKENS_TOTAL
    )
    assert 5 <= generated < 500
    assert metric(later, LLAMACPP_GENERATED_TOKENS_TOTAL) == metric(
        at_cancel, LLAMACPP_GENERATED_TOKENS_TOTAL
    )
    assert metric(later, LLAMACPP_CANCELLED_TOTAL) == metric(before, LLAMACPP_CANCELLED_TOTAL) + 1


def test_triton_metrics_count_requests(triton_server: TritonServer, client: StreamingClient) -> None:
    before = metric(scrape(triton_server.metrics_url), TRITON_REQUEST_SUCCESS, model="seedcoder")
    for _ in range(2):
        client.generate(make_inputs(PROMPT, 4))
    after = wait_for_metric(triton_server.metrics_url, TRITON_REQUEST_SUCCESS, before + 2, model="seedcoder")
    assert after == before + 2
    assert metric(scrape(triton_server.metrics_url), LLAMACPP_GENERATED_TOKENS_TOTAL, model="seedcoder") > 0


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (make_inputs(""), "text_input is empty"),
        (make_inputs(max_tokens=0), "max_tokens must be between 1 and 512, got 0"),
        (make_inputs(max_tokens=10**9), "max_tokens must be between 1 and 512"),
        (make_inputs(max_tokens=-3), "max_tokens must be between 1 and 512"),
        (make_inputs(b"def \xff\xfe(x):"), "text_input is not valid UTF-8"),
        (make_inputs(max_tokens=4.0, max_tokens_dtype="FP32"), "max_tokens"),
        (make_inputs(max_tokens=None), "max_tokens"),
        (make_inputs("x " * 5000, 100), "exceeds the context window"),
    ],
    ids=["empty", "zero", "huge", "negative", "bad-utf8", "wrong-dtype", "missing", "too-long"],
)
def test_bad_inputs_get_clear_errors(
    triton_server: TritonServer, client: StreamingClient, inputs: list[object], message: str
) -> None:
    failures_before = metric(scrape(triton_server.metrics_url), TRITON_REQUEST_FAILURE, model="seedcoder")
    out = client.generate(inputs)  # type: ignore[arg-type]
    assert out.last.error is not None
    assert message in out.last.error
    # the server is still serving
    assert client.generate(make_inputs(PROMPT, 2)).last.error is None
    assert triton_server.running
    assert (
        metric(scrape(triton_server.metrics_url), TRITON_REQUEST_FAILURE, model="seedcoder")
        >= failures_before
    )


def _reference_counts(gguf_model: object, texts: list[str]) -> list[int]:
    """Token counts straight from llama.cpp, in a child process (llama-cpp-python leaks a
    /dev/null handle at exit, which would be reported against this test process)."""
    script = (
        "import json, sys, llama_cpp\n"
        "v = llama_cpp.Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)\n"
        "texts = json.loads(sys.stdin.read())\n"
        "print(json.dumps([len(v.tokenize(t.encode(), add_bos=True, special=True)) for t in texts]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(gguf_model)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    counts: list[int] = json.loads(done.stdout.strip().splitlines()[-1])
    return counts


def test_tokenize_model_counts_with_the_models_tokenizer(
    triton_server: TritonServer, gguf_model: object
) -> None:
    import numpy as np
    import tritonclient.grpc as grpcclient

    texts = ["hello", "def fibonacci(n):\n    return n", "héllo → wörld 🙂"]
    expected = _reference_counts(gguf_model, texts)
    client = grpcclient.InferenceServerClient(triton_server.grpc_url)
    for text, want in zip(texts, expected, strict=True):
        tensor = grpcclient.InferInput("text_input", [1], "BYTES")
        tensor.set_data_from_numpy(np.array([text.encode()], dtype=np.object_))
        result = client.infer("seedcoder_tokenize", [tensor])
        count = int(result.as_numpy("token_count")[0])
        assert count == want
    bad = grpcclient.InferInput("text_input", [1], "BYTES")
    bad.set_data_from_numpy(np.array([b"\xff"], dtype=np.object_))
    with pytest.raises(Exception, match="not valid UTF-8"):
        client.infer("seedcoder_tokenize", [bad])
    client.close()
