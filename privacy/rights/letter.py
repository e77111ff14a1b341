"""A letter to the requester in the language of their request (Art. 12(1): concise, intelligible,
in clear and plain language; Art. 12(3): information on the action taken), rendered from a receipt
or notice: its texts for the subject in that one language, as plain text to send by e-mail or post.
The JSON document beside it stays the record, in both languages (Art. 5(2)).

A letter holds no personal data: the controller's details, the request's id and dates and fixed
wording. Whoever sends it adds the requester's name and address."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

from privacy.rights import texts
from privacy.rights.package import write_text
from privacy.rights.readable import shown
from privacy.rights.requests import local_date

SUFFIX = ".letter.txt"  # beside the file it goes with, in place of its last suffix
WIDTH = 80


def letter(document: dict, controller: dict, written: datetime) -> str:
    """The letter for ``document`` (a receipt or notice with ``request_id``, ``type``,
    ``received_at`` and ``language``): every {"nl": ..., "en": ...} text in it, in the request's
    language, in the document's order and each once (a text that another one holds is left out)."""
    lang = document.get("language") if document.get("language") in texts.LANGUAGES else texts.LANGUAGES[0]
    at = texts.LANGUAGES.index(lang)
    found = list(dict.fromkeys(_texts(document, lang)))
    said = [text for text in found if not any(text in other and text != other for other in found)]
    word = {k: pair[at] for k, pair in texts.LETTER.items()}
    topic = texts.LETTER_TOPIC.get(document["type"], (document["type"],) * 2)[at]
    head = [controller.get(k) for k in ("name", "address", "contact") if controller.get(k)]
    lines = [*head, "", f"{word['reference']}: {document['request_id']}",
             f"{word['date']}: {shown(local_date(written.isoformat()), lang)}", "",
             *textwrap.wrap(f"{word['re']}: {topic}, {word['received']} "
                            f"{shown(local_date(document['received_at']), lang)}", WIDTH), "", word["dear"], ""]
    for text in said:
        lines += [*textwrap.wrap(text, WIDTH), ""]
    lines += [word["regards"], "", controller.get("name", "")]
    return "\n".join(lines).rstrip() + "\n"


def write_letter(beside: Path, document: dict, controller: dict, written: datetime) -> Path:
    """Write the letter beside the file it goes with, mode 0600: ``<id>.receipt.json`` gets
    ``<id>.receipt.letter.txt``, an access export ``<id>.zip`` its cover letter ``<id>.letter.txt``."""
    return write_text(letter_of(beside), letter(document, controller, written))


def letter_of(path: Path) -> Path:
    """The letter that goes with the file at ``path``."""
    return path.with_suffix(SUFFIX)


def _texts(value, lang: str):
    if isinstance(value, dict) and set(value) == set(texts.LANGUAGES):
        if isinstance(value[lang], str) and value[lang].strip():
            yield value[lang].strip()
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item, lang)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item, lang)
