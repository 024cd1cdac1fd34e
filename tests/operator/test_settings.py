"""Settings come from the environment into one typed object."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from seedcoder.operator.settings import OperatorSettings


def test_from_env() -> None:
    s = OperatorSettings.from_env(
        {
            "SEEDCODER_NAMESPACES": "ml, tools",
            "SEEDCODER_RESYNC_SECONDS": "7.5",
            "KUBECONFIG": "/tmp/kc",
            "SEEDCODER_ALL_NAMESPACES": "false",
            "UNRELATED": "x",
        }
    )
    assert s.namespaces == ("ml", "tools")
    assert s.resync_seconds == 7.5
    assert s.kubeconfig == "/tmp/kc"
    assert s.all_namespaces is False


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="resync_seconds"):
        OperatorSettings.from_env({"SEEDCODER_RESYNC_SECONDS": "0"})


def test_importing_the_operator_package_registers_nothing() -> None:
    import seedcoder.operator

    assert (seedcoder.operator.__file__ or "").endswith("__init__.py")
    with open(seedcoder.operator.__file__ or "") as f:
        assert f.read() == ""
