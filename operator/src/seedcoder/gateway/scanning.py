"""The scan policy in the completion path: annotate or block candidates, gate streamed lines.

Why here and not in ``service``: the service only asks two things, "which of
these ranked candidates may leave, and with which findings" (non-streamed) and
"which part of this streamed text may leave now" (``LineGate``). The rules and
the scanner are pure code in :mod:`seedcoder.scan`; this module adds the policy
(``off`` / ``annotate`` / ``block``), the metrics and the timing.

Streamed under ``block``, text is held back until its line ends and is released
only when the line is clean in context (the prefix plus every line already
sent). A flagged line ends that candidate with ``content_filter``: nothing of it
reaches the client. The last, unterminated line is scanned with the suffix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from seedcoder.api.scan import ScanSpec
from seedcoder.gateway.metrics import Metrics
from seedcoder.gateway.ranking import Candidate
from seedcoder.scan.deep import WHOLE_FILE
from seedcoder.scan.lang import guess_language
from seedcoder.scan.scanner import API_RULES, ApiLists, Finding, Scanner

CONTENT_FILTER = "content_filter"


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What the scan did to one answer: findings per returned choice, and what was dropped."""

    policy: str
    findings: list[list[Finding]] = field(default_factory=list)
    blocked: list[list[Finding]] = field(default_factory=list)

    def wire(self) -> dict[str, object]:
        body: dict[str, object] = {"policy": self.policy}
        if self.policy == "annotate":
            body["findings"] = [[f.wire() for f in fs] for fs in self.findings]
        else:
            body["blocked_candidates"] = len(self.blocked)
            body["blocked"] = [[{"rule": f.rule, "cwe": f.wire()["cwe"]} for f in fs] for fs in self.blocked]
        return body


class Guard:
    """The configured policy; one per gateway."""

    def __init__(self, spec: ScanSpec, metrics: Metrics) -> None:
        self.policy = spec.policy
        self.metrics = metrics
        self.scanner = Scanner(
            api=ApiLists(tuple(spec.allow_modules), tuple(spec.deny_modules), tuple(spec.deny_calls)),
            disabled=frozenset(spec.disabled_rules),
        )
        if self.active:  # every known series exists from the start (dashboards and rates see zeros)
            ids = [r.id for r in self.scanner.active_rules] + list(API_RULES)
            for rule in ids:
                for action in ("annotated", "blocked"):
                    metrics.scan_findings.labels(rule, action)
            for rule in ids:
                metrics.scan_deep_findings.labels(rule, WHOLE_FILE, "missed")

    @property
    def active(self) -> bool:
        return self.policy != "off"

    def count(self, findings: list[Finding], action: str) -> None:
        for f in findings:
            self.metrics.scan_findings.labels(f.rule, action).inc()

    def check(
        self, prefix: str, suffix: str | None, choices: list[Candidate]
    ) -> tuple[list[Candidate], ScanReport | None]:
        """The choices that may leave (ranked order kept) and the report; ``off`` changes nothing."""
        if not self.active:
            return choices, None
        t0 = time.perf_counter()
        lang = guess_language(prefix, suffix or "", choices[0].text if choices else "")  # once per request
        found = [self.scanner.scan(prefix, c.text, suffix or "", lang) for c in choices]
        self.metrics.scan_seconds.observe(time.perf_counter() - t0)
        if self.policy == "annotate":
            for fs in found:
                self.count(fs, "annotated")
            return choices, ScanReport("annotate", findings=found)
        kept = [c for c, fs in zip(choices, found, strict=True) if not fs]
        blocked = [fs for fs in found if fs]
        for fs in blocked:
            self.count(fs, "blocked")
        if not kept:
            first = choices[0] if choices else Candidate("", CONTENT_FILTER, 0)
            kept = [replace(first, text="", finish_reason=CONTENT_FILTER)]
        return kept, ScanReport("block", findings=[[] for _ in kept], blocked=blocked)

    def gate(self, prefix: str, suffix: str | None) -> LineGate:
        return LineGate(self, prefix, suffix or "")


class LineGate:
    """One streamed candidate under the policy: ``feed`` returns the text that may leave now."""

    def __init__(self, guard: Guard, prefix: str, suffix: str) -> None:
        self._guard = guard
        self._prefix = prefix
        self._suffix = suffix
        self._sent = ""
        self._pending = ""
        self._seconds = 0.0
        self._language = guess_language(prefix, suffix)
        self.blocked: list[Finding] = []

    @property
    def holds(self) -> bool:
        return self._guard.policy == "block"

    def _scan(self, text: str, suffix: str) -> list[Finding]:
        t0 = time.perf_counter()
        try:
            return self._guard.scanner.scan(self._prefix + self._sent, text, suffix, self._language)
        finally:
            self._seconds += time.perf_counter() - t0

    def feed(self, text: str) -> str:
        """Text to send now; under ``block`` only whole lines found clean. Sets ``blocked`` on a finding."""
        if not self.holds:
            self._sent += text
            return text
        if self.blocked:
            return ""
        self._pending += text
        out: list[str] = []
        while (cut := self._pending.find("\n")) >= 0:
            line = self._pending[: cut + 1]
            if found := self._scan(line, ""):
                self._block(found)
                return "".join(out)
            self._sent += line
            out.append(line)
            self._pending = self._pending[cut + 1 :]
        return "".join(out)

    def finish(self) -> tuple[str, list[Finding]]:
        """The rest to send and, under ``annotate``, the findings of the whole candidate."""
        if not self._guard.active:
            return "", []
        if not self.holds:
            found = self._scan_whole()
            self._guard.metrics.scan_seconds.observe(self._seconds)
            self._guard.count(found, "annotated")
            return "", found
        rest, self._pending = self._pending, ""
        if not self.blocked and rest and (found := self._scan(rest, self._suffix)):
            self._block(found)
        self._guard.metrics.scan_seconds.observe(self._seconds)
        if self.blocked:
            return "", []
        self._sent += rest
        return rest, []

    def _scan_whole(self) -> list[Finding]:
        text, self._sent = self._sent, ""
        try:
            return self._scan(text, self._suffix)
        finally:
            self._sent = text

    def _block(self, found: list[Finding]) -> None:
        self.blocked = found
        self._pending = ""
        self._guard.count(found, "blocked")
