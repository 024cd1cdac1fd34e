"""Shared field types, patterns and CEL helpers of the SeedCoderDeployment API.

Why separate: the spec modules, the status module and the CRD generator all need
the same patterns (DNS names, private CIDRs) and the same way to attach CEL
rules to a schema node; defining them once keeps the generated CRD consistent.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic.config import JsonDict

GpuKind = Literal["H100", "A100", "L40S", "RTX4090", "L4", "CPU"]
"""GPU kinds a pool can run on; each has a build profile in ``seedcoder.engines``."""
RuntimeName = Literal["tensorrt-llm", "llamacpp"]
Precision = Literal[
    "auto", "bf16", "fp16", "fp8", "int8-sq", "int4-awq", "gguf-q4_k_m", "gguf-q8_0", "gguf-f16"
]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_KEYS_RULE = {
    "rule": "self.all(k, size(k) <= 253)",
    "message": "keys must be at most 253 characters",
}
PRIVATE_CIDR_RULE = (
    "isCIDR(self) && (cidr(self).ip().family() == 4 ? "
    "(cidr('10.0.0.0/8').containsCIDR(self) || cidr('172.16.0.0/12').containsCIDR(self) || "
    "cidr('192.168.0.0/16').containsCIDR(self) || cidr('100.64.0.0/10').containsCIDR(self)) : "
    "cidr('fc00::/7').containsCIDR(self))"
)


def rules(*rules: dict[str, str]) -> JsonDict:
    """The ``x-kubernetes-validations`` (CEL) extension for a schema node."""
    return {"x-kubernetes-validations": [dict(r) for r in rules]}


LabelValue = Annotated[str, Field(max_length=63)]
AnnotationValue = Annotated[str, Field(max_length=4096)]
DnsLabel = Annotated[str, Field(max_length=63, pattern=DNS_LABEL)]
PrivateCidr = Annotated[
    str,
    Field(
        max_length=43,
        json_schema_extra=rules(
            {"rule": PRIVATE_CIDR_RULE, "message": "must be a private (RFC 1918/6598 or ULA) CIDR"}
        ),
    ),
]
Cidr = Annotated[
    str, Field(max_length=43, json_schema_extra=rules({"rule": "isCIDR(self)", "message": "must be a CIDR"}))
]
