"""Objection to direct marketing (GDPR Art. 21(2)-(3)) and withdrawal of consent (Art. 7(3)) as
consent events, the one record of consent that the marts read (Art. 7(1)).

An objection withdraws every consent purpose that serves direct marketing, profiling for it
included (Art. 21(2)); a withdrawal names one purpose or ``all``. Events are rows in the landing
format of ``consent_events``, so they pass the same ingest gate as every other event.
"""

from __future__ import annotations

from datetime import datetime, timezone

from privacy.policy import Policy

CHANNEL = "privacy_request"
# The notice version of a withdrawal for a customer of whom no consent event is kept (the pages say "onbekend").
UNKNOWN_NOTICE = "unknown"
MARKETING = "direct_marketing"
PROFILING = "profiling"
# The consent each subject has now per purpose, derived from the events (latest wins): what the access
# export shows as "your consents as they stand now", and what a withdrawal updates at once.
RESOLVED = "intermediate.int_consents_resolved"


def direct_marketing_purposes(policy: Policy) -> list[str]:
    """The consent purposes of the direct-marketing purpose (Art. 21(2)): approaching the subject."""
    return list(policy.purposes[MARKETING].consent_purposes) if MARKETING in policy.purposes else []


def objection_purposes(policy: Policy) -> list[str]:
    """Consent purposes an objection to direct marketing ends: those of the consent-based
    direct-marketing purpose, plus profiling (Art. 21(2): "including profiling")."""
    purposes = direct_marketing_purposes(policy)
    if PROFILING in policy.consent_purposes and PROFILING not in purposes:
        purposes.append(PROFILING)
    return [p for p in purposes if p in policy.consent_purposes]


# What an objection to direct marketing leaves running (Art. 21(2)-(3) end direct marketing only): the
# purposes on legitimate interest (Art. 6(1)(f)) that use a customer's data and read no consent, so no
# withdrawal changes them: the segmentation and CLV marts (analytics), the key accounts (account_management)
# and the satisfaction figures per segment (service_quality). Art. 21(1) covers them: the privacy officer
# assesses such an objection. Whether an account manager's contact with a key account is direct marketing
# (then an objection would have to end it, and key_accounts leave objectors out) is a business decision: the
# policy names it account management, so the objection leaves it as it is, and its receipt says so.
CONTINUING = ("analytics", "account_management", "service_quality")


def continuing_after_objection(policy: Policy) -> list[str]:
    """The purposes an objection to direct marketing leaves running (Art. 21(1) covers them, not 21(2))."""
    return [p for p in CONTINUING if p in policy.purposes]


def purposes_for(request_type: str, purpose: str | None, policy: Policy) -> list[str]:
    """The consent purposes a request withdraws (Art. 7(3), 21(3))."""
    if request_type == "objection":
        return objection_purposes(policy)
    if purpose == "all":
        return list(policy.consent_purposes)
    return [purpose] if purpose in policy.consent_purposes else []


def withdrawal_events(request_id: str, customer_id: str, purposes: list[str], occurred_at: datetime,
                      notice_version: str) -> list[dict[str, str]]:
    """One ``withdrawn`` consent event per purpose, in the landing format of consent_events."""
    when = occurred_at.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
    return [{"event_id": f"{request_id}-{p}", "customer_id": customer_id, "purpose": p, "action": "withdrawn",
             "occurred_at": when, "notice_version": notice_version, "channel": CHANNEL} for p in purposes]
