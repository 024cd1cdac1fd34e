"""The fast path's rules, as data: each an id, a CWE, a severity, a message, languages and a pattern.

Why patterns and not a parser: the fast path runs on every candidate inside the
completion latency budget (a few milliseconds for an 8k-token context), on
fragments that rarely parse. Each rule is a regular expression over the code
*around* the completion (comments blanked out), and only matches that overlap
the completion's own span become findings. ``unless`` names the safe form of a
call (``yaml.load(..., Loader=SafeLoader)``, ``hashlib.md5(..., usedforsecurity=False)``)
so that look-alikes stay quiet; ``needs_import`` ties a rule to an import in the
file (Java's ``ScriptEngine.eval`` only when ``javax.script`` is imported).

Languages: ``python``, ``javascript`` (TypeScript included), ``java``, ``go``.
The deeper pass (Bandit, Semgrep with the project's own rules) catches what
these miss; its findings name the rules to improve here.
"""

# ruff: noqa: E501  (patterns are data: one rule, one line)

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Final, Literal

Severity = Literal["low", "medium", "high"]
LANGUAGES: Final = ("python", "javascript", "java", "go")
PY: Final = ("python",)
JS: Final = ("javascript",)
JAVA: Final = ("java",)
GO: Final = ("go",)
ALL: Final = LANGUAGES


@dataclass(frozen=True, slots=True)
class Rule:
    """One fast-path check."""

    id: str
    cwe: int
    severity: Severity
    message: str
    languages: tuple[str, ...]
    pattern: str
    unless: str | None = None
    needs_import: str | None = None
    triggers: tuple[str, ...] = ()
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    unless_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))
        object.__setattr__(self, "unless_regex", re.compile(self.unless) if self.unless else None)

    @property
    def category(self) -> str:
        """The rule class (the part of the id after the language), e.g. ``sql-injection``."""
        return CATEGORIES[self.cwe]


CATEGORIES: Final = {
    89: "sql-injection",
    798: "hardcoded-credential",
    78: "command-injection",
    502: "unsafe-deserialization",
    95: "code-injection",
    327: "weak-crypto",
    295: "tls-verification-disabled",
}

# SQL text: a statement shape, not a lone keyword ("Please select a file" is not SQL).
_COL = r"(?:[\w.*]+(?:\([^)\"'\n]*\))?(?:\s+(?i:as)\s+\w+)?)"
_SQL = (
    r"(?:(?i:select)\s+(?:(?i:distinct)\s+)?" + _COL + r"(?:\s*,\s*" + _COL + r")*\s+(?i:from)\s+[\w.\"`\[{$]"
    r"|(?i:insert\s+into)\b|(?i:update)\s+[\w.\"`]+\s+(?i:set)\b"
    r"|(?i:delete\s+from)\b|\b(?i:where)\s+[\w.\"`]+\s*(?:=|<|>|\b(?i:like|in)\b))"
)
# a string literal (one line) whose text is SQL
_SQL_STR = rf"(?:\"[^\"\n]*{_SQL}[^\"\n]*\"|'[^'\n]*{_SQL}[^'\n]*')"
# a plain (constant) literal as a call's only/first argument
_LIT = r"(?:\"[^\"\n$`{]*\"|'[^'\n$`{]*')"
# the rest of a call's arguments (one level of nested parentheses), never past its closing one
_IN_CALL = r"(?:[^;()]|\([^;()]*\)){0,200}?"
_NONCONST_ARG = rf"(?!\s*{_LIT}\s*[,)])(?!\s*\))"
_CRED_NAMES = (
    r"(?i:[\w-]*(?:passw(?:or)?d|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?token"
    r"|access[_-]?token|private[_-]?key|client[_-]?secret|token)[\w-]*)"
)
_NOT_CRED_NAMES = (
    r"(?:[_-](?i:url|uri|path|file|name|header|field|env|var|type|prefix|label|length|len|id|placeholder|hint"
    r"|message|prompt|text|title|suffix)|(?<=[a-z])(?:Url|Uri|Path|File|Name|Header|Field|Env|Var|Type|Prefix|Label"
    r"|Length|Len|Id|Placeholder|Hint|Message|Prompt|Text|Title|Suffix))s?$|(?i:tokeni[sz])"
)

_RULES: Final[tuple[Rule, ...]] = (
    # ------------------------------------------------------------------ CWE-89 SQL injection
    Rule("py.sql-fstring", 89, "high", "SQL built with an f-string: use a parameterised query", PY,
         rf"\b[fF][rR]?(?:\"[^\"\n]*{_SQL}[^\"\n]*\{{|'[^'\n]*{_SQL}[^'\n]*\{{)"),
    Rule("py.sql-percent-format", 89, "high", "SQL built with % or .format(): use a parameterised query", PY,
         rf"{_SQL_STR}\s*(?:%\s*[\w(\[]|\.format\()"),
    Rule("js.sql-template", 89, "high", "SQL built with a template literal: use placeholders", JS,
         rf"`[^`]*{_SQL}[^`]*\$\{{"),
    Rule("java.sql-format", 89, "high", "SQL built with String.format: use a PreparedStatement", JAVA,
         rf"\b(?:String\.format|\.formatted)\s*\(\s*{_SQL_STR}"),
    Rule("go.sql-sprintf", 89, "high", "SQL built with fmt.Sprintf: use query placeholders", GO,
         rf"\bfmt\.Sprintf\(\s*(?:{_SQL_STR}|`[^`]*{_SQL}[^`]*`)"),
    Rule("sql-concat", 89, "high", "SQL built by string concatenation: use a parameterised query", ALL,
         rf"{_SQL_STR}\s*\+\s*(?![\"'`\s])|[\w)\]]\s*\+\s*{_SQL_STR}"),
    # ------------------------------------------------------------------ CWE-798 hard-coded credentials
    Rule("aws-access-key", 798, "high", "Hard-coded AWS access key id", ALL,
         r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
    Rule("private-key", 798, "high", "Hard-coded private key", ALL,
         r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    Rule("token-literal", 798, "high", "Hard-coded access token", ALL,
         r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,}|xox[abprs]-[A-Za-z0-9-]{10,}"
         r"|sk_live_[0-9A-Za-z]{16,}|AIza[0-9A-Za-z_-]{35}|sk-[A-Za-z0-9]{32,}"
         r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"),
    Rule("credential-assignment", 798, "high",
         "Credential assigned from a string literal: read it from the environment or a secret store", ALL,
         rf"(?P<name>\b{_CRED_NAMES})[\"']?\s*(?::=|(?<![=!<>])=(?!=)|:)\s*(?:\w+\()?\s*"
         r"(?:\"(?P<v1>[^\"\s$<>{}]{6,})\"|'(?P<v2>[^'\s$<>{}]{6,})')",
         unless=r"(?i:^(?:x+|\*+|your[\w-]*|changeit|example[\w-]*|placeholder|dummy|none|null|undefined"
         r"|redacted|test[\w-]*|fake[\w-]*|https?:.*|/.*)$)|^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$"),
    # ------------------------------------------------------------------ CWE-78 command injection
    Rule("py.os-system", 78, "high", "Shell command from non-constant input (os.system/os.popen)", PY,
         rf"\bos\.(?:system|popen|popen2|popen3)\({_NONCONST_ARG}"),
    Rule("py.subprocess-shell", 78, "high", "subprocess with shell=True and a non-constant command", PY,
         rf"\bsubprocess\.\w+\({_NONCONST_ARG}{_IN_CALL}\bshell\s*=\s*True"),
    Rule("py.subprocess-getoutput", 78, "high", "Shell command from non-constant input (getoutput)", PY,
         rf"\b(?:subprocess|commands)\.getstatusoutput\(|\b(?:subprocess|commands)\.getoutput\({_NONCONST_ARG}"),
    Rule("js.child-process-exec", 78, "high", "Shell command from non-constant input (child_process.exec)", JS,
         rf"(?:(?<![.\w])|\b(?:child_process|childProcess|cp|shell)\.)exec(?:Sync)?\({_NONCONST_ARG}"
         r"(?!\s*`[^`$]*`)"),
    Rule("js.spawn-shell", 78, "high", "spawn with shell: true and a non-constant command", JS,
         rf"\bspawn(?:Sync)?\({_NONCONST_ARG}{_IN_CALL}\bshell\s*:\s*true"),
    Rule("java.runtime-exec", 78, "high", "Runtime.exec of a non-constant command", JAVA,
         rf"\bgetRuntime\(\)\s*\.\s*exec\({_NONCONST_ARG}"),
    Rule("java.process-builder-shell", 78, "high", "ProcessBuilder running a shell on non-constant input", JAVA,
         r"\bnew\s+ProcessBuilder\(\s*\"(?:/bin/)?(?:sh|bash|cmd(?:\.exe)?)\"\s*,\s*\"(?:-c|/c)\"\s*,"
         r"(?!\s*\"[^\"\n]*\"\s*\))"),
    Rule("go.exec-shell", 78, "high", "exec.Command running a shell on non-constant input", GO,
         r"\bexec\.Command(?:Context)?\((?:\s*\w+\s*,)?\s*\"(?:/bin/)?(?:sh|bash|cmd(?:\.exe)?)\"\s*,"
         r"\s*\"(?:-c|/c)\"\s*,(?!\s*\"[^\"\n]*\"\s*\))"),
    # ------------------------------------------------------------------ CWE-502 deserialization
    Rule("py.pickle", 502, "high", "Unpickling data can run arbitrary code: use JSON or a signed format", PY,
         r"\b(?:c?[pP]ickle|dill|joblib|cloudpickle|_pickle)\.(?:loads?|Unpickler)\(|\bmarshal\.loads?\("
         r"|\bshelve\.open\(|\bjsonpickle\.decode\("),
    Rule("py.yaml-load", 502, "high", "yaml.load without a safe loader: use yaml.safe_load", PY,
         r"\byaml\.(?:unsafe_load(?:_all)?\(|load(?:_all)?\((?P<args>[^;]{0,200}))",
         unless=r"Loader\s*=\s*(?:yaml\.)?C?(?:Safe|Base)Loader"),
    Rule("py.torch-load", 502, "high", "torch.load unpickles: pass weights_only=True or use safetensors", PY,
         r"\btorch\.load\((?P<args>[^;]{0,200})", unless=r"weights_only\s*=\s*True"),
    Rule("js.unserialize", 502, "high", "Deserializing untrusted data can run code (node-serialize)", JS,
         r"\b(?:serialize|serialization|funcster)\.unserialize\(|\bunserialize\(|\bv8\.deserialize\("),
    Rule("java.object-input-stream", 502, "high", "Java deserialization of untrusted data", JAVA,
         r"\bnew\s+ObjectInputStream\s*\(|\bnew\s+XMLDecoder\s*\(|\.enableDefaultTyping\s*\(|"
         r"\bnew\s+XStream\s*\(\s*\)|\bnew\s+Yaml\s*\(\s*\)\s*\.load\("),
    Rule("go.gob-decode-untrusted", 502, "medium", "gob decoding straight from a request body", GO,
         r"\bgob\.NewDecoder\(\s*(?:r|req|request)\.Body\s*\)"),
    # ------------------------------------------------------------------ CWE-95 eval
    Rule("py.eval", 95, "high", "eval/exec of non-constant input", PY,
         rf"(?<![.\w])(?<!def )(?:eval|exec)\({_NONCONST_ARG}"),
    Rule("js.eval", 95, "high", "eval / new Function of non-constant input", JS,
         rf"(?<![.\w])eval\({_NONCONST_ARG}|\bnew\s+Function\s*\((?!\s*\))"
         rf"|\bset(?:Timeout|Interval)\(\s*(?:`[^`]*\$\{{|{_LIT}\s*\+)"),
    Rule("java.script-eval", 95, "high", "ScriptEngine.eval of non-constant input", JAVA,
         rf"\.eval\({_NONCONST_ARG}", needs_import="javax.script"),
    # ------------------------------------------------------------------ CWE-327 weak crypto
    Rule("py.weak-hash", 327, "medium", "MD5/SHA-1 used for security: use SHA-256 or better", PY,
         r"\bhashlib\.(?:md5|sha1|md4)\((?P<args>[^;\n]{0,160})|\bhashlib\.new\(\s*[\"'](?i:md5|sha1|md4)[\"']"
         r"|\b(?:MD5|SHA1?)\.new\(",
         unless=r"usedforsecurity\s*=\s*False"),
    Rule("py.weak-cipher", 327, "high", "Broken cipher or ECB mode", PY,
         r"\b(?:DES3?|ARC4|ARC2|Blowfish|XOR)\.new\(|\bAES\.MODE_ECB\b|\bmodes\.ECB\("
         r"|\balgorithms\.(?:TripleDES|ARC4|Blowfish|IDEA|CAST5)\("),
    Rule("js.weak-hash", 327, "medium", "MD5/SHA-1 used for security: use SHA-256 or better", JS,
         r"\bcreateHash\(\s*[\"'](?i:md5|sha1|md4)[\"']"),
    Rule("js.weak-cipher", 327, "high", "Broken cipher, ECB mode or IV-less createCipher", JS,
         r"\bcreateCipher\(|\bcreateCipheriv\(\s*[\"'](?i:des[\w-]*|rc4[\w-]*|bf[\w-]*|aes-\d+-ecb)[\"']"),
    Rule("java.weak-hash", 327, "medium", "MD5/SHA-1 used for security: use SHA-256 or better", JAVA,
         r"\bMessageDigest\.getInstance\(\s*\"(?i:md5|md2|sha-?1)\""),
    Rule("java.weak-cipher", 327, "high", "Broken cipher or ECB mode (\"AES\" alone means ECB)", JAVA,
         r"\bCipher\.getInstance\(\s*\"(?i:des|desede|rc4|rc2|blowfish|aes\"|aes/ecb|[\w]+/ecb)"),
    Rule("go.weak-crypto", 327, "medium", "MD5/SHA-1/DES/RC4 used for security", GO,
         r"\b(?:md5|sha1)\.(?:New|Sum)\(|\bdes\.New(?:TripleDES)?Cipher\(|\brc4\.NewCipher\("),
    # ------------------------------------------------------------------ CWE-295 TLS verification
    Rule("py.tls-verify-off", 295, "high", "TLS certificate verification turned off", PY,
         r"\bverify\s*=\s*False\b|\b_create_unverified_context\(|\bcheck_hostname\s*=\s*False\b"
         r"|\b(?:verify_mode|cert_reqs)\s*=\s*(?:ssl\.)?CERT_NONE\b|\b(?:AutoAddPolicy|WarningPolicy)\(\)"),
    Rule("js.tls-verify-off", 295, "high", "TLS certificate verification turned off", JS,
         r"\brejectUnauthorized\s*:\s*false\b|\bNODE_TLS_REJECT_UNAUTHORIZED[\"'\]]?\s*=\s*[\"']?0"
         r"|\bstrictSSL\s*:\s*false\b|\binsecure\s*:\s*true\b"),
    Rule("java.tls-verify-off", 295, "high", "TLS certificate or host name verification turned off", JAVA,
         r"\bcheckServerTrusted\s*\([^)]*\)\s*(?:throws\s+[\w.,\s]+)?\{\s*\}|\bNoopHostnameVerifier\b"
         r"|\bALLOW_ALL_HOSTNAME_VERIFIER\b|\bTrustAllStrategy\b|\bTrustSelfSignedStrategy\b"
         r"|\bsetHostnameVerifier\(\s*\(\s*\w+\s*,\s*\w+\s*\)\s*->\s*true\b"
         r"|\bverify\s*\(\s*String\s+\w+\s*,\s*SSLSession\s+\w+\s*\)\s*\{\s*return\s+true\s*;"),
    Rule("go.tls-verify-off", 295, "high", "TLS certificate verification turned off", GO,
         r"\bInsecureSkipVerify\s*:\s*true\b"),
)  # fmt: skip


_SQL_WORDS = ("select", "insert", "update", "delete", "where")
# Lower-case substrings, one of which any match must contain: a rule whose triggers are all
# absent near the completion is not run (most completions trigger only a few rules).
TRIGGERS: Final[dict[str, tuple[str, ...]]] = {
    "py.sql-fstring": _SQL_WORDS, "py.sql-percent-format": _SQL_WORDS, "js.sql-template": _SQL_WORDS,
    "java.sql-format": _SQL_WORDS, "go.sql-sprintf": _SQL_WORDS, "sql-concat": _SQL_WORDS,
    "aws-access-key": ("akia", "asia", "agpa", "aida", "aroa"),
    "private-key": ("private key",),
    "token-literal": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "sk_live_", "aiza", "sk-", "eyj"),
    "credential-assignment": ("pass", "pwd", "secret", "key", "token"),
    "py.os-system": ("os.",), "py.subprocess-shell": ("shell",),
    "py.subprocess-getoutput": ("getoutput", "getstatusoutput"),
    "js.child-process-exec": ("exec",), "js.spawn-shell": ("shell",),
    "java.runtime-exec": ("getruntime",), "java.process-builder-shell": ("processbuilder",),
    "go.exec-shell": ("exec.command",),
    "py.pickle": ("pickle", "marshal", "shelve", "dill", "joblib"), "py.torch-load": ("torch.load",), "py.yaml-load": ("yaml.",),
    "js.unserialize": ("unserialize", "deserialize"),
    "java.object-input-stream": ("objectinputstream", "xmldecoder", "defaulttyping", "xstream", "yaml"),
    "go.gob-decode-untrusted": ("gob.",),
    "py.eval": ("eval", "exec"), "js.eval": ("eval", "function", "settimeout", "setinterval"),
    "java.script-eval": ("eval",),
    "py.weak-hash": ("md5", "sha1", "md4", "hashlib.new"),
    "py.weak-cipher": ("des", "arc4", "arc2", "blowfish", "xor.new", "ecb", "algorithms."),
    "js.weak-hash": ("createhash",), "js.weak-cipher": ("createcipher",),
    "java.weak-hash": ("messagedigest",), "java.weak-cipher": ("cipher.getinstance",),
    "go.weak-crypto": ("md5.", "sha1.", "des.", "rc4."),
    "py.tls-verify-off": ("verify", "unverified", "check_hostname", "cert_none", "autoaddpolicy", "warningpolicy"),
    "js.tls-verify-off": ("rejectunauthorized", "node_tls", "strictssl", "insecure"),
    "java.tls-verify-off": ("checkservertrusted", "noophostname", "allow_all", "trustall", "trustselfsigned",
                            "hostnameverifier", "sslsession"),
    "go.tls-verify-off": ("insecureskipverify",),
}  # fmt: skip
RULES: Final = tuple(replace(r, triggers=TRIGGERS[r.id]) for r in _RULES)


def _check() -> None:
    ids = [r.id for r in RULES]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate rule ids: {sorted(dupes)}")
    for r in RULES:
        if r.cwe not in CATEGORIES:
            raise ValueError(f"rule {r.id}: CWE-{r.cwe} has no category")
        if not r.triggers or any(t != t.lower() for t in r.triggers):
            raise ValueError(f"rule {r.id}: needs lower-case triggers")
        if bad := set(r.languages) - set(LANGUAGES):
            raise ValueError(f"rule {r.id}: unknown languages {sorted(bad)}")


_check()
RULES_BY_ID: Final = {r.id: r for r in RULES}
NOT_CRED_NAMES: Final = re.compile(_NOT_CRED_NAMES)
