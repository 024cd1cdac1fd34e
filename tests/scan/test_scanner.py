"""The fast scanner's semantics: in context, only the completion's span, API lists, languages, scrubbing."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from seedcoder.scan import rules as rules_module
from seedcoder.scan.deep import SEMGREP_RULES, deep_scan
from seedcoder.scan.imports import find_imports
from seedcoder.scan.lang import guess_language
from seedcoder.scan.rules import CATEGORIES, RULES, Rule
from seedcoder.scan.scanner import ApiLists, Scanner
from seedcoder.scan.secrets import find_secrets, scrub

ROOT = Path(__file__).resolve().parents[2]
PY = "import os\nimport subprocess\n\n\ndef run(cmd):\n"


def rules_of(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [f.rule for f in findings]


def test_every_rule_is_data_with_id_cwe_severity_message_and_languages() -> None:
    assert len({r.id for r in RULES}) == len(RULES)
    assert {r.cwe for r in RULES} == set(CATEGORIES)
    for r in RULES:
        assert r.severity in ("low", "medium", "high")
        assert r.message
        assert r.languages
        assert r.triggers
    covered = {(lang, r.cwe) for r in RULES for lang in r.languages}
    for lang in ("python", "javascript", "java", "go"):
        assert {c for lg, c in covered if lg == lang} >= {89, 798, 78, 327, 295}, lang


def test_a_rule_without_a_category_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = Rule("x.bad", 1234, "high", "m", ("python",), r"x", triggers=("x",))
    monkeypatch.setattr(rules_module, "RULES", (*RULES, bad))
    with pytest.raises(ValueError, match="CWE-1234"):
        rules_module._check()


def test_only_findings_overlapping_the_completion_are_reported() -> None:
    prefix = PY + '    os.system("rm -rf " + cmd)\n'
    assert Scanner().scan(prefix, "    return 0\n") == []
    (f,) = Scanner().scan(PY, '    os.system("rm -rf " + cmd)\n')
    assert (f.rule, f.cwe, f.line, f.start) == ("py.os-system", 78, 1, 4)


def test_a_statement_split_between_prefix_and_completion_is_seen_whole() -> None:
    prefix = PY + "    subprocess.check_output(cmd,\n"
    assert rules_of(Scanner().scan(prefix, "        shell=True)\n")) == ["py.subprocess-shell"]
    assert Scanner().scan(prefix, "        text=True)\n") == []


def test_the_suffix_completes_the_statement() -> None:
    prefix = PY + "    subprocess.run(cmd, "
    assert rules_of(Scanner().scan(prefix, "shell=True", ")\n    return 0\n")) == ["py.subprocess-shell"]


def test_comments_are_not_code() -> None:
    assert Scanner().scan(PY, "    # eval(cmd) would be wrong here\n    return int(cmd)\n") == []
    js = "const cp = require('child_process');\nfunction f(x) {\n"
    assert Scanner().scan(js, "  // cp.exec('ls ' + x) is unsafe\n  return x;\n") == []


def test_api_lists_resolve_calls_through_the_files_imports() -> None:
    prefix = "import requests as rq\nfrom os import system\n\n\ndef f(u):\n"
    lists = Scanner(api=ApiLists(deny_modules=("requests",), deny_calls=("os.system",)))
    found = lists.scan(prefix, "    rq.get(u)\n    system(u)\n")
    assert [(f.rule, f.line) for f in found] == [("api.denied-module", 1), ("api.denied-call", 2)]
    assert found[1].message == "Call of denied API os.system"
    assert lists.scan(prefix, "    return len(u)\n") == []


def test_allow_list_flags_new_imports_and_calls_outside_it() -> None:
    allow = Scanner(api=ApiLists(allow_modules=("internal.http", "json")))
    prefix = "import json\nimport internal.http\n\n"
    assert allow.scan(prefix, "import requests\n") != []
    assert rules_of(allow.scan(prefix, "import json\n")) == []
    js = "import axios from 'axios';\n"
    assert rules_of(Scanner(api=ApiLists(allow_modules=("internal-http",))).scan(js, "axios.get(u);\n")) == [
        "api.module-not-allowed"
    ]
    go = 'package main\n\nimport (\n\t"net/http"\n)\n\nfunc f() {\n'
    deny = Scanner(api=ApiLists(deny_calls=("net/http.Get",)))
    assert rules_of(deny.scan(go, '\thttp.Get("http://x")\n')) == ["api.denied-call"]


def test_imports_of_each_language() -> None:
    py = find_imports("import a.b as c\nfrom d import e as f, g\n", "python")
    assert {(i.module, i.name, i.alias) for i in py} == {("a.b", None, "c"), ("d", "e", "f"), ("d", "g", "g")}
    js_code = "const { exec: run } = require('child_process');\nimport * as fs from 'fs';\n"
    js = find_imports(js_code, "javascript")
    assert {(i.module, i.name, i.alias) for i in js} == {("child_process", "exec", "run"), ("fs", None, "fs")}
    node = find_imports(
        "const cp = require('node:child_process');\nimport { WebClient } from '@slack/web-api';\n",
        "javascript",
    )
    assert {(i.module, i.alias) for i in node} == {("child_process", "cp"), ("@slack/web-api", "WebClient")}
    java = find_imports("import java.net.http.HttpClient;\n", "java")
    assert [(i.module, i.name) for i in java] == [("java.net.http", "HttpClient")]
    go = find_imports('import (\n\tnethttp "net/http"\n\t"os/exec"\n)\n', "go")
    assert {(i.module, i.alias) for i in go} == {("net/http", "nethttp"), ("os/exec", "exec")}


@pytest.mark.parametrize(
    ("prefix", "language"),
    [
        ('package main\n\nimport "fmt"\n', "go"),
        ("package com.example;\n\nimport java.util.List;\n", "java"),
        ("import os\n\ndef f():\n", "python"),
        ("const x = require('x');\n", "javascript"),
        ("import { a } from './a';\n", "javascript"),
    ],
)
def test_language_from_the_file_head(prefix: str, language: str) -> None:
    assert guess_language(prefix) == language


def test_unknown_language_runs_every_rule() -> None:
    assert guess_language("x\n") is None
    assert rules_of(Scanner().scan("x\n", "y = eval(z)\n")) == ["js.eval", "py.eval"]


def test_disabled_rules_by_id_or_class() -> None:
    code = "    h = hashlib.md5(cmd.encode())\n"
    assert rules_of(Scanner().scan(PY, code)) == ["py.weak-hash"]
    assert Scanner(disabled=frozenset({"py.weak-hash"})).scan(PY, code) == []
    assert Scanner(disabled=frozenset({"weak-crypto"})).scan(PY, code) == []


def test_scrub_replaces_secrets_with_typed_placeholders() -> None:
    text = (
        'aws = "AKIAZ7QW3ERT6YUI9OPL"\n'
        'db = "postgres://app:hunter2-long@db/x"\n'
        "token = 'ghp_4fKx9QmZ2pLw8RtY6vBn3JcHd7SaE1uGo5Ni'\n"
        'password = "Tr0ub4dor&3x"\n'
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq9\n-----END RSA PRIVATE KEY-----\n"
        'safe = os.environ["API_KEY"]\n'
    )
    out = scrub(text)
    for secret in ("AKIAZ7QW3ERT6YUI9OPL", "hunter2-long", "ghp_4fKx9Q", "Tr0ub4dor", "MIIEowIBAAKCAQEA7bq9"):
        assert secret not in out
    for kind in ("aws_access_key", "url_password", "github_token", "credential", "private_key"):
        assert f"<SECRET:{kind}>" in out
    assert 'safe = os.environ["API_KEY"]' in out
    assert find_secrets(out) == []


def test_deep_pass_reports_what_the_fast_path_missed() -> None:
    # the fast rules see a window; a shell call far below its import with an alias is Bandit's catch
    prefix = "import subprocess as sp\n\n\ndef f(x):\n"
    found = deep_scan(prefix, "    sp.call(x, shell=True)\n")
    bandit = [f for f in found if f.engine == "bandit"]
    assert bandit
    assert all(f.line == 1 for f in bandit)
    assert {f.fast_path for f in bandit} == {"missed"}
    assert re.match(r"B\d+\.", bandit[0].rule)


def _semgrep() -> str:
    found = os.environ.get("SEEDCODER_SEMGREP") or str(ROOT / ".venv-semgrep" / "bin" / "semgrep")
    assert Path(found).exists(), (
        f"{found} missing: bash tools/setup-python.sh installs Semgrep in .venv-semgrep"
    )
    return found


def test_project_semgrep_rules_are_well_formed() -> None:
    doc = yaml.safe_load((SEMGREP_RULES / "seedcoder.yaml").read_text())
    ids = [r["id"] for r in doc["rules"]]
    assert len(ids) == len(set(ids))
    for r in doc["rules"]:
        assert set(r["languages"]) <= {"python", "javascript", "typescript", "java", "go"}, r["id"]
        assert r["message"]
        assert int(r["metadata"]["cwe"].removeprefix("CWE-")) in CATEGORIES, r["id"]


def test_semgrep_runs_the_projects_rules_offline_in_the_deep_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDCODER_SEMGREP", _semgrep())
    prefix = "const cp = require('child_process');\nfunction f(x) {\n"
    found = deep_scan(prefix, "  cp.exec(x);\n  return eval(x);\n", "}\n")
    semgrep = {(f.rule, f.cwe, f.line) for f in found if f.engine == "semgrep"}
    assert semgrep == {("js-child-process-exec", 78, 1), ("js-eval", 95, 2)}
