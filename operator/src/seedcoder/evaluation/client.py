"""A minimal client of an OpenAI-compatible ``/v1/completions`` endpoint for FIM.

Standard library only: the evaluation Job needs no HTTP package beyond Python's.
Greedy decoding (``temperature: 0``) so a run is repeatable; the prefix goes in
``prompt`` and the suffix in ``suffix``, exactly as IDE clients send them, so
the endpoint's own FIM template is what is evaluated.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field


class EndpointError(RuntimeError):
    """The endpoint did not answer with a completion."""


@dataclass(frozen=True, slots=True)
class CompletionsClient:
    base_url: str  # e.g. http://gateway:8000/v1
    model: str
    api_key: str | None = field(default=None, repr=False)
    max_tokens: int = 64
    timeout_s: float = 60.0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http(s) URL, got {self.base_url!r}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")

    def complete(self, prefix: str, suffix: str) -> str:
        """The middle the endpoint writes between ``prefix`` and ``suffix``."""
        body: dict[str, object] = {
            "model": self.model,
            "prompt": prefix,
            "suffix": suffix,
            "max_tokens": self.max_tokens,
            "temperature": 0,
        }
        if self.stop:
            body["stop"] = list(self.stop)
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url.rstrip("/") + "/completions"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")  # noqa: S310 (http(s) only, checked above)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise EndpointError(f"{url} answered HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise EndpointError(f"{url} did not answer: {exc}") from exc
        try:
            text = answer["choices"][0]["text"]
        except (KeyError, IndexError, TypeError) as exc:
            raise EndpointError(f"{url} answered without choices[0].text") from exc
        if not isinstance(text, str):
            raise EndpointError(f"{url} answered a non-string choices[0].text")
        return text
