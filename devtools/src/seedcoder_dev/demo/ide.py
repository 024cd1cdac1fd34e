"""Copy-paste configuration that points IDE assistants at the gateway.

Why one function: the README's "Connect your IDE" section and the end of
``make up`` print the same text, and tests check both that the README shows what
this returns and that each snippet, read as its client reads it, produces a
request the real gateway answers (see ``tests/fixtures/clients/``).

- Continue (``config.yaml``, schema v1): the ``openai`` provider has no FIM
  endpoint, so Continue renders ``promptTemplates.autocomplete`` itself and posts
  it as ``prompt`` to ``/v1/completions``; the template is Seed-Coder's (suffix
  first), the stop words are its end-of-sentence and FIM tokens.
- Tabby (``config.toml``): kind ``openai/completion`` sends ``prompt`` and
  ``suffix``; the gateway applies the FIM template. ``api_endpoint`` ends in ``/v1``.
- llama.vscode (``settings.json``): it calls ``<endpoint>/infill`` like a
  llama.cpp server, so the endpoint is the gateway's root, without ``/v1``.
"""

from __future__ import annotations

SEED_CODER_FIM = "<[fim-suffix]>{{{suffix}}}<[fim-prefix]>{{{prefix}}}<[fim-middle]>"
"""Seed-Coder's FIM template in Continue's Handlebars syntax (triple braces: no HTML escaping)."""
SEED_CODER_STOPS = ("<[end▁of▁sentence]>", "<[fim-suffix]>", "<[fim-prefix]>", "<[fim-middle]>")


def _root(base_url: str) -> str:
    """The gateway's root URL from its OpenAI base URL (``.../v1``)."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def continue_config(base_url: str, api_key: str, model: str) -> str:
    stops = "\n".join(f'        - "{s}"' for s in SEED_CODER_STOPS)
    return f"""name: Seed-Coder autocomplete
version: 1.0.0
schema: v1
models:
  - name: Seed-Coder (in-VPC)
    provider: openai
    model: {model}
    apiBase: {_root(base_url)}/v1
    apiKey: {api_key}
    roles:
      - autocomplete
    useLegacyCompletionsEndpoint: true
    promptTemplates:
      autocomplete: "{SEED_CODER_FIM}"
    defaultCompletionOptions:
      contextLength: 8192
      maxTokens: 256
      temperature: 0.01
      stop:
{stops}
    autocompleteOptions:
      maxPromptTokens: 2048
"""


def tabby_config(base_url: str, api_key: str, model: str) -> str:
    return f"""[model.completion.http]
kind = "openai/completion"
model_name = "{model}"
api_endpoint = "{_root(base_url)}/v1"
api_key = "{api_key}"
"""


def llama_vscode_settings(base_url: str, api_key: str) -> str:
    return f"""{{
  "llama-vscode.endpoint": "{_root(base_url)}",
  "llama-vscode.api_key": "{api_key}",
  "llama-vscode.n_predict": 128
}}
"""


def client_snippets(base_url: str, api_key: str, model: str) -> str:
    """Continue, Tabby and llama.vscode snippets for this gateway, as ``make up`` prints them."""
    return (
        "\nContinue (~/.continue/config.yaml):\n\n"
        + continue_config(base_url, api_key, model)
        + "\nTabby (~/.tabby/config.toml):\n\n"
        + tabby_config(base_url, api_key, model)
        + "\nllama.vscode (VS Code settings.json; the endpoint has no /v1):\n\n"
        + llama_vscode_settings(base_url, api_key)
    )
