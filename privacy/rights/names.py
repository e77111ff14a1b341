"""Third persons in a subject's texts, found through a blind index instead of a list of all names.

The redactor recognises the CRM's known persons from their names; loading every customer's and
lead's name for one access export costs seconds per 100,000 people. Only names that occur in
the subject's few texts matter, so every run of up to ``MAX_TOKENS`` words of those texts is
looked up in an index of keyed HMACs (built from the landing files; no name is stored) and the
redactor is given exactly the known names found. The person index only ever looks up the text's
own words, so it finds the same persons as with the full list (Art. 15(4), 25(1), 5(1)(c)).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from privacy.identifiers import NAME_TOKEN, name_key  # as the redactor's person index (privacy.recognizers)

_EMAIL = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")
MAX_TOKENS = 6
_NOBODY = "qxzqxz"  # stands in for the unknown half of a name found alone; no text holds it


def person_keys(first: str | None, last: str | None) -> list[tuple[str, str]]:
    """(kind, key) under which one person is indexed: full name, first given name, surname."""
    f, s = name_key(first or ""), name_key(last or "")
    return [("full", f"{f} {s}"), ("first", f.split(" ", 1)[0]), ("last", s)] if f and s else []


def candidates(texts: Iterable[str]) -> tuple[set[str], set[str]]:
    """Every run of 1..MAX_TOKENS words (lower case) and every e-mail-like string in ``texts``."""
    runs, emails = set(), set()
    for text in texts:
        words = [w.lower() for w in NAME_TOKEN.findall(text)]
        runs.update(" ".join(words[i:j]) for i in range(len(words))
                    for j in range(i + 1, min(i + MAX_TOKENS, len(words)) + 1))
        emails.update(m.group().rstrip(".").lower() for m in _EMAIL.finditer(text))
    return runs, emails


def persons_in(texts: Iterable[str], known: Callable[[str, set[str]], set[str]],
               known_emails: Callable[[set[str]], set[str]]) -> list[tuple[str, str, str | None]]:
    """Known persons (first, last, email) occurring in ``texts``, for ``privacy.redact.Redactor``.

    ``known(kind, keys)`` returns the keys of that kind in the index; ``known_emails(addresses)``
    the addresses in the e-mail index."""
    runs, emails = candidates(list(texts))
    out = [(k.split(" ", 1)[0], k.split(" ", 1)[1], None) for k in known("full", runs) if " " in k]
    out += [(_NOBODY, k, None) for k in known("last", runs)]
    out += [(k, _NOBODY, None) for k in known("first", {r for r in runs if " " not in r})]
    out += [(_NOBODY, _NOBODY, e) for e in known_emails(emails)]
    return out
