"""The written privacy policy (``privacy/policy.yml``) as typed, read-only data.

One place for the controller, the purposes with their legal basis, the retention rules, the
recipients and the security measures: the register of processing activities (GDPR Art. 30)
and the retention sweep (Art. 5(1)(e)) both read it, so policy and code cannot drift.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_POLICY = Path(__file__).with_name("policy.yml")

# One or more Art. 6(1) / Art. 9(2) grounds, e.g. "6(1)(b)" or "6(1)(a) + 9(2)(a)".
_BASIS = re.compile(r"^(6\(1\)\([a-f]\)|9\(2\)\([a-j]\))(\s*\+\s*(6\(1\)\([a-f]\)|9\(2\)\([a-j]\)))*$")


def valid_legal_basis(basis: object, *, special: bool = False) -> bool:
    """Whether ``basis`` names Art. 6(1) grounds; special categories also need Art. 9(2)."""
    if not isinstance(basis, str) or not _BASIS.match(basis.strip()):
        return False
    return "9(2)" in basis if special else "6(1)" in basis


@dataclass(frozen=True)
class Purpose:
    name: str
    description: str
    legal_basis: str
    consent_based: bool = False
    consent_purposes: tuple[str, ...] = ()
    plain: dict[str, str] = field(default_factory=dict, hash=False, compare=False)  # {"nl": ..., "en": ...} for data subjects (Art. 12(1))
    # Art. 6(1)(f): the interest pursued, why the processing is necessary, the balancing test, and
    # the interest in plain words for data subjects (Art. 13(1)(d), 14(2)(b)); see privacy.purpose.
    legitimate_interest: dict = field(default_factory=dict, hash=False, compare=False)
    # Art. 6(4): the compatibility assessment of a use of data collected under another basis.
    compatibility: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class RetentionRule:
    name: str
    description: str
    duration_days: int
    anchor: str
    action: str
    applies_to: str = ""  # what a rule covers that no classified column names (files, say)
    plain: dict[str, str] = field(default_factory=dict, hash=False, compare=False)  # {"nl": ..., "en": ...} for data subjects (Art. 12(1))


@dataclass(frozen=True)
class Policy:
    controller: dict
    dpo: dict
    supervisory_authority: str
    subject_categories: dict[str, str]
    purposes: dict[str, Purpose]
    consent_purposes: dict[str, str]  # name -> description
    retention: dict[str, RetentionRule]
    recipients: list[dict]
    consent_plain: dict[str, dict[str, str]]  # name -> {"nl": ..., "en": ...} for data subjects (Art. 12(1))
    transfers_outside_eea: str
    security_measures: list[str]
    path: Path | None = None
    raw: dict = field(default_factory=dict, repr=False)
    dutch: dict[str, str] = field(default_factory=dict, repr=False)  # English text -> its Dutch (see `text`)

    def text(self, english: str, lang: str) -> str:
        """A text of the policy in ``lang`` ("en" or "nl"): its Dutch where the policy gives one
        (``{en: ..., nl: ...}``), else the English as written."""
        return self.dutch.get(english, english) if lang == "nl" else english


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Read the policy file (default ``privacy/policy.yml``) that documents Art. 5, 6, 30 and 32."""
    path = Path(path) if path is not None else DEFAULT_POLICY
    dutch: dict[str, str] = {}
    raw = _english(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, dutch)
    purposes = {
        name: Purpose(name, p.get("description", ""), str(p.get("legal_basis", "")),
                      bool(p.get("consent_based", False)), tuple(p.get("consent_purposes") or ()),
                      dict(p.get("plain") or {}), dict(p.get("legitimate_interest") or {}),
                      dict(p.get("compatibility") or {}))
        for name, p in (raw.get("purposes") or {}).items()
    }
    retention = {
        name: RetentionRule(name, r.get("description", ""), int(r.get("duration_days", 0)),
                            str(r.get("anchor", "")), str(r.get("action", "")), str(r.get("applies_to", "")),
                            dict(r.get("plain") or {}))
        for name, r in (raw.get("retention") or {}).items()
    }
    consents = raw.get("consent_purposes") or {}  # name -> description, or {description, plain}
    return Policy(
        controller=raw.get("controller") or {},
        dpo=raw.get("dpo") or {},
        supervisory_authority=raw.get("supervisory_authority", ""),
        subject_categories=raw.get("subject_categories") or {},
        purposes=purposes,
        consent_purposes={k: v if isinstance(v, str) else v.get("description", "") for k, v in consents.items()},
        consent_plain={k: {} if isinstance(v, str) else dict(v.get("plain") or {}) for k, v in consents.items()},
        retention=retention,
        recipients=list(raw.get("recipients") or []),
        transfers_outside_eea=raw.get("transfers_outside_eea", ""),
        security_measures=list(raw.get("security_measures") or []),
        path=path,
        raw=raw,
        dutch=dutch,
    )


def _english(value, dutch: dict[str, str], key: str = ""):
    """The policy with each text written as ``{en: ..., nl: ...}`` (for the register, Art. 30) in
    English, its Dutch collected in ``dutch``; ``plain`` texts for data subjects stay as they are."""
    if isinstance(value, dict) and not key.endswith("plain"):
        if set(value) == {"en", "nl"}:
            dutch[str(value["en"])] = str(value["nl"])
            return str(value["en"])
        return {k: _english(v, dutch, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_english(v, dutch, key) for v in value]
    return value
