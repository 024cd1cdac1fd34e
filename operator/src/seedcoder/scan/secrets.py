"""Scrubbing credentials out of text before it is stored: typed placeholders such as ``<SECRET:aws_access_key>``.

Why two layers: the project's own patterns (the CWE-798 rules' shapes, plus whole
PEM blocks, which line-based tools only flag by their first line) run first, then
Yelp's detect-secrets plugins (without the entropy plugins, which would erase
ordinary hashes and ids from a code data set) on the lines that could hold a
secret at all; a cheap filter picks those lines, since detect-secrets costs about
0.1 ms a line and a prompt can have a thousand.
"""

# ruff: noqa: E501  (patterns are data: one rule, one line)

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from detect_secrets.core.scan import scan_line
from detect_secrets.settings import transient_settings

_PLUGINS: Final = [
    {"name": n}
    for n in (
        "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "BasicAuthDetector",
        "CloudantDetector", "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector",
        "IbmCloudIamDetector", "IbmCosHmacDetector", "JwtTokenDetector", "KeywordDetector",
        "MailchimpDetector", "NpmDetector", "OpenAIDetector", "PrivateKeyDetector", "PypiTokenDetector",
        "SendGridDetector", "SlackDetector", "SoftlayerDetector", "SquareOAuthDetector", "StripeDetector",
        "TelegramBotTokenDetector", "TwilioKeyDetector",
    )
]  # fmt: skip

# (type, pattern, group holding the secret or 0 for the whole match)
_OWN: Final[tuple[tuple[str, re.Pattern[str], int | str], ...]] = (
    ("private_key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"), 0),
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"), 0),
    ("aws_secret_key", re.compile(r"(?i:aws_?secret_?(?:access_?)?key)[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})\b"), 1),
    ("github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,})\b"), 0),
    ("slack_token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), 0),
    ("stripe_key", re.compile(r"\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}"), 0),
    ("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), 0),
    ("openai_key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}"), 0),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), 0),
    ("url_password", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@\"']+:([^@\s/\"'<>]+)@"), 1),
)  # fmt: skip
_MAYBE: Final = re.compile(
    r"^.*(?:(?i:pass|pwd|secret|key|token|auth|cred|bearer)|://[^/\s]+@|AKIA|gh[pousr]_|xox|sk_|eyJ|-----BEGIN).*$",
    re.M,
)
_TYPE: Final = re.compile(r"[^a-z0-9]+")


def placeholder(kind: str) -> str:
    return f"<SECRET:{kind}>"


def _kind(detect_secrets_type: str) -> str:
    name = _TYPE.sub("_", detect_secrets_type.lower()).strip("_")
    return {"secret_keyword": "credential", "basic_auth_credentials": "url_password"}.get(name, name)


def find_secrets(text: str) -> list[tuple[str, str]]:
    """``(kind, value)`` of every secret found in ``text``."""
    found: list[tuple[str, str]] = []
    for kind, pattern, group in _OWN:
        for m in pattern.finditer(text):
            if not m.group(group).startswith("<SECRET:"):
                found.append((kind, m.group(group)))
    lines = [m.group(0) for m in _MAYBE.finditer(text)]
    if lines:
        with transient_settings({"plugins_used": _PLUGINS}):
            for line in lines:
                for s in scan_line(line):
                    if (
                        s.secret_value
                        and len(s.secret_value) >= 4
                        and not s.secret_value.startswith("<SECRET:")
                    ):
                        found.append((_kind(s.type), s.secret_value))
    return found


def _replacer(kind: str, group: int | str) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        return m.group(0).replace(m.group(group), placeholder(kind))

    return replace


def scrub(text: str) -> str:
    """``text`` with every secret replaced by its typed placeholder (longest values first)."""
    if not text:
        return text
    for kind, pattern, group in _OWN:
        if group == 0:
            text = pattern.sub(placeholder(kind), text)
        else:
            text = pattern.sub(_replacer(kind, group), text)
    for kind, value in sorted(set(find_secrets(text)), key=lambda kv: -len(kv[1])):
        if "<SECRET:" not in value:
            text = text.replace(value, placeholder(kind))
    return text
