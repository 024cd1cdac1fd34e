"""Copy-paste configuration that points IDE assistants at the gateway.

Why: the first thing a developer does with a running gateway is point their
editor at it. Continue renders the FIM template itself or sends ``suffix``;
Tabby's ``openai/completion`` kind sends ``suffix`` too, which the gateway turns
into Seed-Coder's fill-in-the-middle prompt.
"""

from __future__ import annotations


def client_snippets(base_url: str, api_key: str, model: str) -> str:
    """Continue (config.yaml) and Tabby (config.toml) snippets for this gateway."""
    return f"""
Continue (~/.continue/config.yaml):
  models:
    - name: Seed-Coder (in-VPC)
      provider: openai
      model: {model}
      apiBase: {base_url}
      apiKey: {api_key}
      roles: [autocomplete]

Tabby (~/.tabby/config.toml):
  [model.completion.http]
  kind = "openai/completion"
  api_endpoint = "{base_url}"
  api_key = "{api_key}"
  model_name = "{model}"
"""
