"""Redaction of personal data in free text: typed placeholders such as <PERSON> or <IBAN_CODE>.

`Redactor.redact` serves minimisation (Art. 5(1)(c)): analytics never sees names, numbers or
addresses from call notes and comments. `Redactor.redact_others` serves the access export
(Art. 15(4)): the data subject gets their own values back, third persons stay hidden. Engines
are built once per Redactor and reused for every text (Art. 25: cheap enough to always run).
"""

import re
import unicodedata
from collections.abc import Iterable

import spacy
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NoOpNlpEngine, SpacyNlpEngine
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig

from privacy.identifiers import name_key
from privacy.recognizers import KnownPersonsRecognizer, PersonIndex, name_like, pattern_recognizers

_SPACES = re.compile(r"^( )+$")  # presidio_anonymizer's test for "only whitespace between" (a final \n passes too)
ENTITIES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "NL_BSN", "NL_POSTCODE", "DATE_OF_BIRTH")


_DASHES = {c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"}
# What shows nothing (Unicode's Default_Ignorable_Code_Point: the format characters, variation
# selectors, fillers, the combining grapheme joiner) and the dashes: a text in NFKC without any of
# them is read as it is (most texts: no pass per character). A test keeps it complete.
_IGNORABLE = ("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
              "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
              "\U0001d173-\U0001d17a\U000e0000-\U000e0fff")
_SHOWS_NOTHING = re.compile(f"[{_IGNORABLE}]")
_SPECIAL = re.compile(f"[{_IGNORABLE}\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\ufff9-\ufffb\U000110bd"
                      f"\U000110cd\U00013430-\U0001343f{''.join(_DASHES)}]")


def _read_as(chars: str) -> str:
    """What the recognizers read for one character with the combining marks that follow it: nothing
    for what shows nothing (format characters such as zero-width spaces, direction marks and the
    soft hyphen; variation selectors; fillers), '-' for a dash, else its NFKC form (a non-breaking
    or narrow space becomes a space, full-width digits and '＠' their ASCII forms, 'e' and a
    combining acute accent one 'é')."""
    kept = "".join(c for c in chars if not (_SHOWS_NOTHING.match(c) or unicodedata.category(c) == "Cf"))
    return _DASHES.get(kept) or unicodedata.normalize("NFKC", kept)


def normalise(text: str) -> tuple[str, list[tuple[int, int]] | None]:
    """The text as the recognizers read it (``_read_as`` per character and its combining marks), so a
    phone number, IBAN or name pasted from a web page, an e-mail client or a Mac is found like a
    typed one; with, beyond ASCII, for every position in it the span of ``text`` it was read from:
    what is found is replaced in the text as written, which stays as it was elsewhere."""
    if text.isascii() or (unicodedata.is_normalized("NFKC", text) and not _SPECIAL.search(text)):
        return text, None
    read, where, i = [], [], 0
    while i < len(text):
        j = i + 1
        while j < len(text) and unicodedata.combining(text[j]):
            j += 1
        for c in _read_as(text[i:j]):
            read.append(c)
            where.append((i, j))
        i = j
    return "".join(read), where


def _in_text(results: list[RecognizerResult], where: list[tuple[int, int]] | None) -> list[RecognizerResult]:
    """Results found in the normalised text, at their places in the text as written."""
    if where is None:
        return results
    return [RecognizerResult(r.entity_type, where[r.start][0], where[r.end - 1][1], r.score) for r in results]


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """spaCy's rule-based tokenizer only: no model to install or download, no NER to pay for."""

    def load(self) -> None:
        self.nlp = {model["lang_code"]: spacy.blank(model["lang_code"]) for model in self.models}


def blank_nlp_engine(languages: Iterable[str]) -> BlankSpacyNlpEngine:
    engine = BlankSpacyNlpEngine(models=[{"lang_code": lang, "model_name": f"blank_{lang}"} for lang in languages])
    engine.load()
    return engine


class NoContextEnhancer(ContextAwareEnhancer):
    """Our recognizers put their context words in the regex; Presidio's lemma pass would only cost time."""

    def __init__(self):
        super().__init__(context_similarity_factor=0, min_score_with_context_similarity=0, context_prefix_count=0,
                         context_suffix_count=0)

    def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
        return raw_results


def resolve(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Non-overlapping results, highest score first, then longest: an IBAN beats a phone inside it."""
    kept: list[RecognizerResult] = []
    for r in sorted(results, key=lambda r: (-r.score, r.start - r.end, r.start)):
        if all(r.end <= k.start or r.start >= k.end for k in kept):
            kept.append(r)
    return sorted(kept, key=lambda r: r.start)


class Redactor:
    """Finds and replaces personal data (Art. 5(1)(c), 15(4)); known_persons are (first, last, email)
    of CRM customers and leads."""

    def __init__(self, known_persons: Iterable[tuple[str, str, str | None]] | None = None,
                 languages: Iterable[str] = ("nl", "en"), score_threshold: float = 0.4, tokenize: bool = False):
        """tokenize=True runs spaCy's blank tokenizer and Presidio's lemma context step, needed only
        by recognizers added later that rely on Presidio context words; ours do not (3-4x faster)."""
        self.languages, self.threshold = tuple(languages), score_threshold
        index = PersonIndex(known_persons or [])  # one index shared by all languages: 1 M names fit once
        registry = RecognizerRegistry(supported_languages=list(self.languages))
        for lang in self.languages:
            for recognizer in pattern_recognizers(lang) + [KnownPersonsRecognizer(index, lang)]:
                registry.add_recognizer(recognizer)
        models = [{"lang_code": lang, "model_name": "none"} for lang in self.languages]
        nlp = blank_nlp_engine(self.languages) if tokenize else NoOpNlpEngine(models=models)
        nlp.load()
        self.analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=list(self.languages),
                                       context_aware_enhancer=None if tokenize else NoContextEnhancer())
        self.anonymizer = AnonymizerEngine()
        self.operators = {e: OperatorConfig("replace", {"new_value": f"<{e}>"}) for e in ENTITIES}
        # Without tokenizing there is no context step, so the engine's analyze() reduces to: these
        # recognizers on the text, results below the threshold dropped, Presidio's own duplicate
        # removal. Calling them directly gives the same results without the engine's per-call
        # bookkeeping (about a third of the time per text); tests/privacy/test_redact.py compares.
        self._direct = None if tokenize else {
            lang: self.analyzer.registry.get_recognizers(language=lang, entities=list(ENTITIES), all_fields=False)
            for lang in self.languages}
        for recognizers in (self._direct or {}).values():
            for recognizer in recognizers:
                if not recognizer.is_loaded:
                    recognizer.load()
                    recognizer.is_loaded = True

    def _results(self, text: str, language: str | None) -> list[RecognizerResult]:
        # Every recognizer carries its context words for both languages, so the language only picks
        # the spaCy tokenizer; the first configured language is a safe default.
        lang = language if language in self.languages else self.languages[0]
        if self._direct is None:
            found = self.analyzer.analyze(text, language=lang, entities=list(ENTITIES), score_threshold=self.threshold)
        else:
            found = self._analyze_direct(text, lang)
        return resolve(found)

    def _analyze_direct(self, text: str, lang: str) -> list[RecognizerResult]:
        """What `AnalyzerEngine.analyze` returns here (no context enhancement, an explicit score
        threshold, no allow list), found by the same recognizers. None of them reads spaCy's tokens
        (context words are inside their regexes), so the text is not tokenized."""
        found: list[RecognizerResult] = []
        for recognizer in self._direct[lang]:
            results = recognizer.analyze(text=text, entities=list(ENTITIES), nlp_artifacts=None)
            if results:
                found.extend(results)
        return EntityRecognizer.remove_duplicates([r for r in found if r.score >= self.threshold])

    def analyze(self, text: str, language: str | None = None) -> list[dict]:
        """[{start, end, entity, score}] of the personal data found in text (read as ``normalise``
        reads it; positions in the text as written)."""
        read, where = normalise(text)
        return [{"start": r.start, "end": r.end, "entity": r.entity_type, "score": r.score}
                for r in _in_text(self._results(read, language), where)]

    def _replace(self, text: str, results: list[RecognizerResult]) -> str:
        if not results:
            return text
        if self._direct is None:
            return self.anonymizer.anonymize(text=text, analyzer_results=results, operators=self.operators).text
        # What the AnonymizerEngine does to results that resolve() left sorted and non-overlapping:
        # merge neighbours of one type with only spaces between them, replace each by its placeholder.
        spans: list[list] = []
        for r in results:
            if spans and spans[-1][2] == r.entity_type and _SPACES.search(text[spans[-1][1]:r.start]):
                spans[-1][1] = r.end
            else:
                spans.append([r.start, r.end, r.entity_type])
        out, pos = [], 0
        for start, end, entity in spans:
            out += (text[pos:start], f"<{entity}>")
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def redact(self, texts: Iterable[str | None], language: str | None = None) -> list[str | None]:
        """Each text with every value found (read as ``normalise`` reads it) replaced by its
        placeholder; None and '' pass through."""
        return [self._redact_one(t, language) if t else t for t in texts]

    def _redact_one(self, text: str, language: str | None) -> str:
        read, where = normalise(text)
        return self._replace(text, _in_text(self._results(read, language), where))

    def redact_others(self, texts: Iterable[str | None], keep: Iterable[str],
                      language: str | None = None) -> list[str | None]:
        """Redact everything except the data subject's own values (keep: raw values, see own_values).
        Besides what `redact` finds, anything that looks like a name (`name_like`) is hidden unless it
        is the subject's own: a third person the CRM does not know stays out of the export (Art. 15(4))."""
        own = {form for value in keep for form in _forms(normalise(value)[0])}
        out = []
        for t in texts:
            if not t:
                out.append(t)
                continue
            read, where = normalise(t)
            found = self._results(read, language) + [RecognizerResult("PERSON", s, e, 0.5) for s, e in name_like(read)
                                                     if not _starts_with_own(read[s:e], own)]
            hidden = [r for r in resolve(found) if canonical(r.entity_type, read[r.start:r.end]) not in own]
            out.append(self._replace(t, _in_text(hidden, where)))
        return out


def _starts_with_own(span: str, own: set[str]) -> bool:
    """Whether a name-like run begins with the subject's own full name ('Jan Smit Maandag'), or does
    after its first word, an ordinary word opening a sentence ('Graag Jan Smit'): kept, like the
    name. A single name is not enough: 'Piet Smit' may be another Smit."""
    key = name_key(span)
    rest = key.partition(" ")[2]
    return any(key.startswith(f"{o} ") or rest == o or rest.startswith(f"{o} ") for o in own if " " in o)


def own_values(record: dict) -> set[str]:
    """The data subject's values from a CRM row (first_name, last_name, email, phone, iban, postcode,
    house_number, birth_date) as accepted by redact_others: name forms include 'Lastname' alone and
    'J. Lastname'."""
    def get(key: str) -> str:
        value = record.get(key)
        return "" if value is None or value != value else str(value).strip()  # value != value: NaN

    first, last = get("first_name"), get("last_name")
    initial = f"{first[:1]}. {last}" if first and last else ""  # 'J. Smit', as people sign
    values = {first, last, f"{first} {last}", initial, get("email"), get("phone"), get("iban"),
              f"{get('postcode')} {get('house_number')}", get("birth_date")}
    return {v.strip() for v in values if v.strip()}


_MONTHS = {m: i % 12 + 1 for i, m in enumerate(
    "jan feb maa apr mei jun jul aug sep okt nov dec jan feb mar apr may jun jul aug sep oct nov dec".split())}
_MONTHS["mrt"] = 3


def _iso_date(text: str) -> str | None:
    t = text.lower()
    if m := re.search(r"(\d{4})-(\d{1,2})-(\d{1,2})", t):
        y, mo, d = m.groups()
    elif m := re.search(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", t):
        d, mo, y = m.groups()  # day first, as written in the Netherlands and the UK
    elif m := re.search(r"(\d{1,2})\w* ([a-z]{3})\w*\.? (\d{4})", t):
        d, mo, y = m.group(1), _MONTHS.get(m.group(2)), m.group(3)
    elif m := re.search(r"([a-z]{3})\w*\.? (\d{1,2})\w*,? (\d{4})", t):
        mo, d, y = _MONTHS.get(m.group(1)), m.group(2), m.group(3)
    else:
        return None
    return f"{int(y):04d}-{int(mo):02d}-{int(d):02d}" if mo else None


def canonical(entity: str, value: str) -> str:
    """One spelling per value, so '+31 6 1234 5678' in a text equals '0612345678' in the CRM."""
    v = value.strip().lower()
    if entity == "PERSON":
        return name_key(v)
    if entity == "PHONE_NUMBER":
        d = re.sub(r"\D", "", v.replace("(0)", ""))
        return "0" + d[4:] if d.startswith("0031") else "0" + d[2:] if d.startswith("31") else d
    if entity == "NL_POSTCODE":
        # house number after the postcode ('1234 AB 12') or before it ('Kerkstraat 12, 1234 AB')
        number = r"(\d{1,5}(?:[a-z]|-\d{1,3})?)"
        m = re.search(rf"(?:{number},? )?(\d{{4}}) ?([a-z]{{2}})(?!\w)(?:\D*{number})?", v)
        return f"{m[2]}{m[3]}{m[4] or m[1] or ''}" if m else v
    if entity == "DATE_OF_BIRTH":
        return _iso_date(v) or v
    return re.sub(r"[\s.-]", "", v) if entity in ("IBAN_CODE", "NL_BSN") else v


def _forms(value: str) -> set[str]:
    return {canonical(entity, value) for entity in ENTITIES} - {""}
