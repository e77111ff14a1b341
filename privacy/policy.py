"""The written privacy policy (``privacy/policy.yml``) as typed, read-only data.

One place for the controller, the purposes with their legal basis, the retention rules, the
recipients and the security measures: the register of processing activities (GDPR Art. 30)
and the retention sweep (Art. 5(1)(e)) both read it, so policy and code cannot drift.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from privacy.exceptions import PolicyError

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
    """A purpose of processing with its legal basis (Art. 5(1)(b), 6(1), 30(1)(b))."""
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
    """How long what a rule covers is kept, counted from its anchor, and what then happens to it
    (Art. 5(1)(e), 30(1)(f))."""
    name: str
    description: str
    duration_days: int
    anchor: str
    action: str
    applies_to: str = ""  # what a rule covers that no classified column names (files, say)
    # for such a record outside the warehouse: the purposes it serves and whom it is about (Art. 30(1)(b)-(c))
    purposes: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    plain: dict[str, str] = field(default_factory=dict, hash=False, compare=False)  # {"nl": ..., "en": ...} for data subjects (Art. 12(1))

    def cutoff(self, now: datetime) -> datetime:
        """What is dated before the returned moment (UTC) is past this rule at ``now`` (Art. 5(1)(e)).

        Periods count in whole days (UTC): what is dated day D goes in the first run on day
        D + ``duration_days``, whatever the hour of either. Counted to the second instead, a daily
        run at a fixed hour kept a file loaded a few seconds into its run a day longer than the
        register says (the same hour 30 days on is not yet past the load)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        now = now.astimezone(timezone.utc)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return min(now, today + timedelta(days=1 - self.duration_days))  # 0 days: not what is dated later today


_SAMPLE = re.compile(r"\bvoorbeeld|(^|[@./])example\.", re.IGNORECASE)


@dataclass(frozen=True)
class Policy:
    """``privacy/policy.yml``, read: what the register of processing activities states (Art. 30(1))
    and the rules the retention sweep applies (Art. 5(1)(e))."""
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

    def sample_details(self) -> list[str]:
        """The controller's and the DPO's fields that still hold the shipped sample's details (a
        ``Voorbeeld`` name, an ``example.`` address), which the register and every letter to a data
        subject would name as the controller and where to exercise their rights (Art. 13(1)(a)-(b),
        30(1)(a))."""
        fields = {f"{part}.{k}": v for part, d in (("controller", self.controller), ("dpo", self.dpo))
                  for k, v in d.items()}
        return [f for f, v in fields.items() if _SAMPLE.search(str(v or ""))]

    def text(self, english: str, lang: str) -> str:
        """A text of the policy in ``lang`` ("en" or "nl"): its Dutch where the policy gives one
        (``{en: ..., nl: ...}``), else the English as written."""
        return self.dutch.get(english, english) if lang == "nl" else english


SECTIONS = {"controller", "dpo", "supervisory_authority", "subject_categories", "purposes", "consent_purposes",
            "retention", "recipients", "transfers_outside_eea", "transfers_outside_eea_plain", "security_measures"}
PURPOSE_KEYS = {"description", "legal_basis", "consent_based", "consent_purposes", "plain", "legitimate_interest",
                "compatibility"}
RULE_KEYS = {"description", "plain", "duration_days", "anchor", "action", "applies_to", "purposes", "subjects"}
# delete or anonymise rows (the sweep), rewrite the warehouse file (compaction), or rebuild (derived data)
ACTIONS = ("delete", "anonymise", "compact", "rebuild")


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Read the policy file (default ``privacy/policy.yml``) that documents Art. 5, 6, 30 and 32.

    A mistake in it raises PolicyError before anything acts on it: a misspelt ``duration_days``
    read as 0 days would delete data the law keeps, an unknown action would keep data past its
    rule (Art. 5(1)(e))."""
    path = Path(path) if path is not None else DEFAULT_POLICY
    dutch: dict[str, str] = {}
    raw = _english(_checked(_read(path), path), dutch)
    purposes = {
        name: Purpose(name, p.get("description", ""), str(p.get("legal_basis", "")),
                      bool(p.get("consent_based", False)), tuple(p.get("consent_purposes") or ()),
                      dict(p.get("plain") or {}), dict(p.get("legitimate_interest") or {}),
                      dict(p.get("compatibility") or {}))
        for name, p in (raw.get("purposes") or {}).items()
    }
    retention = {
        name: RetentionRule(name, r.get("description", ""), r["duration_days"], str(r["anchor"]), r["action"],
                            str(r.get("applies_to", "")),
                            purposes=tuple(r.get("purposes") or ()), subjects=tuple(r.get("subjects") or ()),
                            plain=dict(r.get("plain") or {}))
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


def _read(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"The policy file {path} cannot be read ({exc.strerror or type(exc).__name__}).") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(f"The policy file {path} is not valid YAML{where} "
                          f"({getattr(exc, 'problem', None) or type(exc).__name__}): fix the indentation or "
                          "quoting there (`git diff` shows what changed).") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"The policy file {path} must be a mapping of sections ({', '.join(sorted(SECTIONS))}).")
    return raw


def _checked(raw: dict, path: Path) -> dict:
    """``raw`` when its sections, purposes and retention rules have only known keys and each rule a
    whole number of days, an anchor and a known action; else PolicyError naming the place."""
    def fail(where: str, problem: str):
        raise PolicyError(f"The policy file {path}, {where}: {problem}. Fix the file, then run again.")

    def known(where: str, keys, allowed: set[str]):
        if unknown := sorted(set(keys) - allowed):
            fail(where, f"unknown key {unknown[0]!r} (expected one of {', '.join(sorted(allowed))})")

    known("top level", raw, SECTIONS)
    for section, allowed in (("purposes", PURPOSE_KEYS), ("retention", RULE_KEYS)):
        entries = raw.get(section) or {}
        if not isinstance(entries, dict):
            fail(section, "expected a mapping of names to entries")
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                fail(f"{section} {name!r}", "expected a mapping of keys")
            known(f"{section} {name!r}", entry, allowed)
    for name, rule in (raw.get("retention") or {}).items():
        days = rule.get("duration_days")
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            fail(f"retention rule {name!r}", "duration_days must be a whole number of days, 0 or more")
        if rule.get("action") not in ACTIONS:
            fail(f"retention rule {name!r}", f"action must be one of {', '.join(ACTIONS)}")
        if not rule.get("anchor"):
            fail(f"retention rule {name!r}", "anchor must say from when the duration counts")
        for key, names in (("purposes", raw.get("purposes") or {}), ("subjects", raw.get("subject_categories") or {})):
            if not isinstance(rule.get(key) or [], list):
                fail(f"retention rule {name!r}", f"{key} must be a list, such as [{next(iter(names), 'name')}]")
            for value in rule.get(key) or ():
                if value not in names:
                    fail(f"retention rule {name!r}", f"{key} names {value!r}, which is not among the policy's "
                                                     f"{'purposes' if key == 'purposes' else 'subject_categories'}")
    return raw


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
