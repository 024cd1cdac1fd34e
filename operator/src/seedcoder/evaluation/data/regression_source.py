# SPDX-License-Identifier: Apache-2.0
"""Source of the public regression task set (``seedcoder.evaluation.public``).

Small, self-contained functions in everyday Python, each with a ``check_<name>``
that tests it. Every body line of a function becomes one single-line infilling
task; the task's test is the function's check. Written for this project and
released under its licence (Apache-2.0), which every task carries.
"""

from __future__ import annotations


def clamp(value: float, low: float, high: float) -> float:
    if low > high:
        raise ValueError("low must not exceed high")
    return max(low, min(value, high))


def check_clamp() -> None:
    assert clamp(5, 0, 3) == 3
    assert clamp(-1, 0, 3) == 0
    assert clamp(2, 0, 3) == 2
    try:
        clamp(1, 3, 0)
    except ValueError:
        pass
    else:
        raise AssertionError("expected ValueError")


def chunks(items: list[int], size: int) -> list[list[int]]:
    if size < 1:
        raise ValueError("size must be at least 1")
    return [items[i : i + size] for i in range(0, len(items), size)]


def check_chunks() -> None:
    assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert chunks([], 3) == []
    try:
        chunks([1], 0)
    except ValueError:
        pass
    else:
        raise AssertionError("expected ValueError")


def word_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in text.lower().split():
        counts[word] = counts.get(word, 0) + 1
    return counts


def check_word_counts() -> None:
    assert word_counts("a b A c b a") == {"a": 3, "b": 2, "c": 1}
    assert word_counts("") == {}


def is_palindrome(text: str) -> bool:
    letters = [c.lower() for c in text if c.isalnum()]
    return letters == letters[::-1]


def check_is_palindrome() -> None:
    assert is_palindrome("A man, a plan, a canal: Panama")
    assert not is_palindrome("seed coder")
    assert is_palindrome("")


def flatten(nested: list[list[int]]) -> list[int]:
    result: list[int] = []
    for inner in nested:
        result.extend(inner)
    return result


def check_flatten() -> None:
    assert flatten([[1, 2], [], [3]]) == [1, 2, 3]
    assert flatten([]) == []


def fibonacci(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def check_fibonacci() -> None:
    assert [fibonacci(i) for i in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]


def parse_key_values(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        pairs[key.strip()] = value.strip()
    return pairs


def check_parse_key_values() -> None:
    assert parse_key_values("a = 1\n# note\n\nb=two\n") == {"a": "1", "b": "two"}
    assert parse_key_values("") == {}


def median(values: list[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def check_median() -> None:
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5
    try:
        median([])
    except ValueError:
        pass
    else:
        raise AssertionError("expected ValueError")


def dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    unique: list[str] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            unique.append(item)
    return unique


def check_dedupe() -> None:
    assert dedupe(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    assert dedupe([]) == []


def snake_case(name: str) -> str:
    out: list[str] = []
    for i, char in enumerate(name):
        if char.isupper() and i > 0:
            out.append("_")
        out.append(char.lower())
    return "".join(out)


def check_snake_case() -> None:
    assert snake_case("SeedCoderDeployment") == "seed_coder_deployment"
    assert snake_case("pool") == "pool"
