"""How the operator authenticates in a pod: the ServiceAccount token, re-read as it rotates.

Found on the real node: the in-cluster loader writes ``bearer <token>`` (lower case),
which the client sent as ``Bearer bearer <token>`` and the API server refused (401).
"""

from __future__ import annotations

from pathlib import Path

import httpx
from seedcoder.operator.kube import ServiceAccountAuth, bearer


def test_bearer_accepts_either_case_and_a_bare_token() -> None:
    assert bearer("bearer abc") == "Bearer abc"
    assert bearer("Bearer abc") == "Bearer abc"
    assert bearer("abc") == "Bearer abc"


def test_the_token_file_is_read_again_after_it_rotates(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    auth = ServiceAccountAuth(str(token), max_age_s=0.0)
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        client.get("https://api.invalid/version")
        token.write_text("second\n")
        client.get("https://api.invalid/version")
    assert seen == ["Bearer first", "Bearer second"]
