"""Presidio recognizers for Dutch and English customer texts (Art. 25 data protection by design).

Presidio ships no Dutch recognizers, and its e-mail recognizer downloads the public-suffix list
at run time. These work offline and without a spaCy model: every context word a recognizer needs
is part of its own regex, so `spacy.blank` is enough. Found spans are redacted for minimisation
(Art. 5(1)(c)) and to protect third persons in access exports (Art. 15(4)).
"""

import re
from collections.abc import Callable, Iterable
from datetime import date

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import IbanRecognizer

from privacy import identifiers
from privacy.identifiers import NAME_TOKEN, name_key

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def elfproef(value: str) -> bool:
    """True if value holds 9 digits whose weighted sum (9..2, -1) is divisible by 11 (BSN rule)."""
    digits = [int(c) for c in value if c.isdigit()]
    return len(digits) == 9 and digits[0] + digits[1] > 0 and sum(map(int.__mul__, digits, _WEIGHTS)) % 11 == 0


def iban_ok(value: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN as written in a text: spaces, dashes, any case."""
    return identifiers.iban_ok(re.sub(r"[\s-]", "", value).upper())


class RegexRecognizer(EntityRecognizer):
    """One compiled regex; the span is group 'v' when present; `scorer(match, text)` scores or vetoes (0).

    `needs`: a cheap regex found in every match, so a text without it is not scanned with the full
    pattern (the same results, found faster: most texts hold no postcode, IBAN or address)."""

    def __init__(self, entity: str, pattern: str, scorer: Callable[[re.Match, str], float], language: str,
                 needs: str | None = None):
        self.regex, self.scorer = re.compile(pattern), scorer
        self.needs = re.compile(needs) if needs else None
        super().__init__(supported_entities=[entity], supported_language=language, name=f"klantkluis_{entity}")

    def load(self) -> None:  # nothing to load: no model, no download
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        entity = self.supported_entities[0]
        if entities and entity not in entities:
            return []
        out = []
        if self.needs is not None and not self.needs.search(text):
            return out
        for m in self.regex.finditer(text):
            score = self.scorer(m, text)
            if score > 0:
                start, end = m.span("v") if "v" in self.regex.groupindex else m.span()
                out.append(RecognizerResult(entity, start, end, score))
        return out


def _before(m: re.Match, text: str, width: int = 32) -> str:
    """The lower-cased words before the match within its own sentence: context never crosses '. '."""
    return re.split(r"[.!?\n]\s", text[max(0, m.start() - width):m.start()].lower())[-1]


_NOT_BSN = re.compile(r"(order|factuur|invoice|ticket|referentie|reference|kenmerk|klantnummer|customer|artikel"
                      r"|item|tracking|kvk|pakket|zending|bestel|contract|polis|dossier)\w*\W*(?:number|nummer)?\W*$")
_BSN_WORDS = re.compile(r"bsn|burgerservice|sofi|citizen service|social security")


def _bsn_score(m: re.Match, text: str) -> float:
    # ~9 % of random 9-digit numbers pass the elfproef: a label like 'factuurnummer' right before
    # the number outweighs the checksum, a BSN label confirms it.
    if not elfproef(m.group()):
        return 0.0
    before = _before(m, text)
    return 1.0 if _BSN_WORDS.search(before) else 0.0 if _NOT_BSN.search(before) else 0.75


_ADDRESS_WORDS = re.compile(r"\b(?:postcode|adres|address|woon\w*|live[sd]? (?:at|in))\b")


def _postcode_score(m: re.Match, text: str) -> float:
    # A bare '1234 AB' also matches product codes ('de 2300 XT'); a postcode alone is not a person's
    # address, so it only counts with a house number or an address word before it.
    if m.group("hn") or m.group("street"):
        return 0.85
    return 0.7 if _ADDRESS_WORDS.search(_before(m, text, 24)) else 0.3


ROLE_MAILBOXES = frozenset(
    "info service support klantenservice customerservice noreply no-reply sales verkoop factuur facturen invoice "
    "billing privacy admin contact team marketing administratie boekhouding orders retour returns helpdesk".split())


def _email_score(m: re.Match, text: str) -> float:
    # Role mailboxes (klantenservice@, noreply@) name a function, not a person: leaving them keeps
    # texts readable. A known person's own address is still caught by the known-persons recognizer.
    return 0.0 if m.group().split("@", 1)[0].lower() in ROLE_MAILBOXES else 0.9


_YOUNGEST_CUSTOMER = 12  # years


def _dob_score(m: re.Match, text: str) -> float:
    # 'geboortedatum gecontroleerd op 12-03-2025' names the check, not the birth: customers are adults.
    # This year, not the year the process started: a long-running code server passes New Year.
    year = int(re.search(r"(?:19|20)\d\d(?!\d)", m.group("v")).group())
    return 0.85 if year <= date.today().year - _YOUNGEST_CUSTOMER else 0.0


_MONTH = (r"jan(?:uari|uary)?|feb(?:ruari|ruary)?|maart|mrt|march|mar|apr(?:il)?|mei|may|june?|juni|july?|juli"
          r"|aug(?:ustus|ust)?|sep(?:t(?:ember)?)?|o[ck]t(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_DATE = (rf"\d{{1,2}}[-/.]\d{{1,2}}[-/.](?:19|20)\d\d|(?:19|20)\d\d-\d{{1,2}}-\d{{1,2}}"
         rf"|\d{{1,2}}(?:st|nd|rd|th|e)? (?:{_MONTH})\.? (?:19|20)\d\d"
         rf"|(?:{_MONTH})\.? \d{{1,2}}(?:st|nd|rd|th)?,? (?:19|20)\d\d")
_S = r"(?: ?[-.] ?| )"  # one separator: '06-1234', '06 1234', '020 - 123'
_PHONE_REST = (  # digit groups people actually write; a free-form run would also match '06-12-2024 14:30'
    rf"(?:6\)?{_S}?(?:\d{{8}}|\d{{4}}{_S}\d{{4}}|\d\d{_S}\d\d{_S}\d\d{_S}\d\d|\d{{3}}{_S}\d{{3}}{_S}\d\d"
    rf"|\d\d{_S}\d{{3}}{_S}\d{{3}})"
    rf"|[1-57-9]\d\)?{_S}?(?:\d{{7}}|\d{{3}}{_S}\d{{4}}|\d{{3}}{_S}\d\d{_S}\d\d)"
    rf"|[1-57-9]\d\d\)?{_S}?(?:\d{{6}}|\d{{3}}{_S}\d{{3}}|\d\d{_S}\d\d{_S}\d\d))")
_STREET = (  # 'Burgemeester de Withstraat 4a, ' before a postcode: the address is street, number and postcode
    r"(?P<street>(?:[A-Z][\w'’-]{0,2}\. |[A-Z][\w'’-]* |(?:de|den|der|van|het|'t) ){0,3}[A-Z][\w'’-]*"
    r"(?:straat|laan|weg|plein|gracht|kade|dijk|singel|hof|pad|steeg|park|dreef|baan|markt|plantsoen|erf|wal|haven)"
    r" \d{1,5}(?:[a-zA-Z]|-\d{1,3})?,? )?")
PATTERNS = {
    # Own e-mail regex instead of Presidio's EmailRecognizer: that one validates with tldextract,
    # which fetches the public-suffix list over the network on first use.
    "EMAIL_ADDRESS": (r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,24}(?![\w-])", _email_score, "@"),
    "PHONE_NUMBER": (rf"(?<![\w+/.-])(?:(?:\+|00)31{_S}?(?:\(0\){_S}?)?|\(?0){_PHONE_REST}(?![\w-]|[ .-]\d)",
                     lambda m, t: 0.8, None),
    "NL_BSN": (r"(?<![\w.,-])(?:\d{9}|\d{4}([. ])\d\d\1\d{3}|\d{3} \d{3} \d{3})(?![\w-]|[.,]\d| \d)", _bsn_score, None),
    # NL IBANs in any case and spacing ('nl91abna...', 'NL91 ABNA 0417164300'); Presidio's own
    # IbanRecognizer (upper case only) stays for foreign IBANs.
    "IBAN_CODE": (r"(?i)(?<![\w])NL\d\d ?[A-Z]{4}(?: ?\d){10}(?![\w])",
                  lambda m, t: 1.0 if iban_ok(m.group()) else 0.0, r"(?i)nl\d\d"),
    "NL_POSTCODE": (_STREET + r"(?<![\w-])(?:[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}|[1-9]\d{3}[a-z]{2})(?![\w-])"
                    r"(?P<hn>(?:,? (?:huisnummer|huisnr\.?|nr\.?|no\.?|number|house number) ?|,? )"
                    r"\d{1,5}(?:[A-Za-z]|-\d{1,3})?(?![\w-]|[.,]\d))?", _postcode_score,
                    r"[1-9]\d{3}(?: ?[A-Z]{2}|[a-z]{2})"),
    "DATE_OF_BIRTH": (rf"(?i)\b(?:geboren|geboortedatum|geboorte datum|geb\.|date of birth|birth ?date|born|dob"
                      rf"|d\.o\.b\.)(?:[\s:(-]+(?:[^\W\d_]+[\s:,(]+){{0,4}}?)?(?P<v>{_DATE})(?!\d)", _dob_score, None),
}


class ForeignIbanRecognizer(IbanRecognizer):
    """Presidio's IbanRecognizer, not run on texts without the 'AB12 CDEF GHIJ' every match of its
    pattern starts with (its flags have no IGNORECASE), so the result is the same: most texts have
    none, and its pattern costs more than all of ours together."""

    _START = re.compile(r"[A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2}")

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        if not self._START.search(text):
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)


def pattern_recognizers(language: str) -> list[EntityRecognizer]:
    """Our regex recognizers plus Presidio's IbanRecognizer (mod-97 checked, spaces allowed)."""
    own = [RegexRecognizer(entity, pattern, scorer, language, needs)
           for entity, (pattern, scorer, needs) in PATTERNS.items()]
    return own + [ForeignIbanRecognizer(supported_language=language, name="IbanRecognizer")]


TITLES = frozenset("meneer mevrouw mevr mw dhr heer mr mrs ms miss mx dr".split())
# Someone naming themselves, known to the CRM or not: 'ik ben Klaas Vaak', 'mijn naam is ...'.
INTROS = {"ben": ("ik",), "heet": ("ik",), "is": ("naam", "name")}
GREETINGS = frozenset("beste hoi hallo hey dag geachte goedemorgen goedemiddag goedenavond hi hello dear".split())


class PersonIndex:
    """Sets of the CRM's known names: lookups are O(1) per text token, so 1 M persons cost only memory."""

    def __init__(self, persons: Iterable[tuple[str, str, str | None]]):
        self.full, self.last, self.first, self.emails = set(), set(), set(), set()
        keys: dict = {}  # names repeat: each distinct one is normalised once
        for first, last, email in persons:
            f = keys[first] if first in keys else keys.setdefault(first, name_key(first))
            s = keys[last] if last in keys else keys.setdefault(last, name_key(last))
            if f and s:
                self.full.add(f"{f} {s}")
                self.first.add(f.split(" ", 1)[0])
                self.last.add(s)
            if email:
                self.emails.add(str(email).strip().lower())
        self.max_full = max((k.count(" ") + 1 for k in self.full), default=0)
        self.max_last = max((k.count(" ") + 1 for k in self.last), default=0)
        self._starters = self.first | TITLES | set(INTROS)

    def find(self, text: str) -> list[tuple[int, int, float]]:
        """Spans of known full names (0.95), 'title Lastname' (0.85), 'greeting Firstname' (0.7), and
        capitalised words after a title or 'ik ben' / 'ik heet' / 'mijn naam is' (0.6)."""
        low = text.lower()
        if len(low) == len(text):  # lower-casing once is cheaper; a few characters change length
            toks = [(m.start(), m.end(), m.group()) for m in NAME_TOKEN.finditer(low)]
        else:
            toks = [(m.start(), m.end(), m.group().lower()) for m in NAME_TOKEN.finditer(text)]
        # Only a known first name, a title, an introduction or an initial can start a name: the rest are skipped.
        first, starters = self.first, self._starters
        out, done, n = [], -1, len(toks)
        for i in [i for i, t in enumerate(toks) if t[2] in starters or len(t[2]) == 1]:
            if i <= done:
                continue  # inside the name found last
            s, e, w = toks[i]
            hit = None
            if w in INTROS and i and toks[i - 1][2] in INTROS[w] and i + 1 < n and text[e:toks[i + 1][0]] == " ":
                hit = _capitalised(text, toks, i + 1, 0.6)
            elif w in first:
                hit = self._longest(text, toks, i, self.full, self.max_full, 0.95)
                if hit is None and i and toks[i - 1][2] in GREETINGS and text[toks[i - 1][1]:s] == " ":
                    hit = (s, e, 0.7, i)
            if hit is None and (w in TITLES or len(w) == 1) and i + 1 < n and text[e:toks[i + 1][0]] in (" ", ". "):
                if w in TITLES:  # a name the CRM does not know still follows a title: 'mevrouw Vaak'
                    hit = (self._longest(text, toks, i + 1, self.last, self.max_last, 0.85)
                           or _capitalised(text, toks, i + 1, 0.6))
                elif text[s].isupper() and text[e] == ".":  # 'J. de Vries'
                    hit = self._longest(text, toks, i + 1, self.last, self.max_last, 0.8)
                    hit = hit and (s, *hit[1:])
            if hit:
                end, done = hit[1], hit[3]
                while done + 1 < n and text[end:toks[done + 1][0]] == "-" and text[end + 1].isupper():
                    end, done = toks[done + 1][1], done + 1  # 'Anna Bakker-Jansen': a known name inside a double name
                out.append((hit[0], end, hit[2]))
        return out

    @staticmethod
    def _longest(text, toks, i, keys, max_len, score):
        # Names are contiguous tokens joined by one space or hyphen: 'Jan de Vries', 'Jansen-de Vries'.
        key, hit = toks[i][2], None
        if key in keys:
            hit = (toks[i][0], toks[i][1], score, i)
        for k in range(i + 1, min(i + max_len, len(toks))):
            if text[toks[k - 1][1]:toks[k][0]] not in (" ", "-"):
                break
            key += " " + toks[k][2]
            if key in keys:
                hit = (toks[i][0], toks[k][1], score, k)
        return hit


_PARTICLES = frozenset("de den der van het 't ten ter te la le du von".split())


def _capitalised(text, toks, i, score):
    """The capitalised words from token i on, with the particles between them ('Van der Berg',
    'de Haan-Smit', 'L. van Vliet'): a name after a title, known to the CRM or not. At most four words."""
    hit, k = None, i
    while k < len(toks) and k < i + 4:
        gap = text[toks[k - 1][1]:toks[k][0]] if k > i else " "
        if gap not in (" ", "-") and not (gap == ". " and len(toks[k - 1][2]) == 1):  # 'L. van Vliet'
            break
        word = text[toks[k][0]:toks[k][1]]
        if word[0].isupper():
            hit = (toks[i][0], toks[k][1], score, k)
        elif toks[k][2] not in _PARTICLES:
            break
        k += 1
    return hit


RELATIONS = frozenset("man vrouw zoon dochter buurman buurvrouw partner collega vriend vriendin broer zus moeder "
                      "vader husband wife son daughter neighbour neighbor colleague friend brother sister mother "
                      "father".split())


_SPACE_OR_COMMA = re.compile(r",?\s+")  # 'buurman Henk', 'groet,\nHenk', a wrapped line
_SENTENCE_BREAK = re.compile(r"[.!?]|.*\n", re.S)  # what ends a sentence, or a line, before a word
# What opens a clause before a word: a colon, a bracket, a double quote, a dash between spaces
# ('Contactpersoon: Henk Brouwer', '(Henk Brouwer)', 'belde - Henk Brouwer ook').
_CLAUSE_BREAK = re.compile(r"\s*[:;()\[\]\"\u201c\u201d]+\s*|\s+[-\u2013\u2014]+\s+")
# Capitalised words that name no person: a signature's team, a letter's 'Dear Sir or Madam'.
NOT_NAMES = frozenset("team klantenservice customer service support sir madam".split())
# Words that open a sentence before a name without being part of it ('Bel Henk Brouwer terug').
OPENERS = frozenset("bel belde bellen terugbellen mail mailde mailen via graag volgens met voor na namens over aan door "
                    "bij per sinds tijdens dank bedankt gisteren vandaag morgen klant gesprek contact in op uit naar "
                    "van te om tot de het een ik wij we u hij zij ze dit dat deze die er ook call called email emailed "
                    "thanks with for from about after the a an i he she they it this that on at of to".split())
_LEADS = GREETINGS | TITLES  # words before a name that are no part of it


def _opens(text: str, toks: list, i: int) -> bool:
    """Whether token i opens a sentence, a line or a clause, where a capitalised word may be an
    ordinary one (not the name after an initial: 'L. van Vliet')."""
    if i == 0:
        return True
    gap = text[toks[i - 1][1]:toks[i][0]]
    if gap.startswith(".") and len(toks[i - 1][2]) == 1:
        return False
    return bool(_SENTENCE_BREAK.match(gap) or _CLAUSE_BREAK.fullmatch(gap))


def _next_capitalised(text: str, toks: list, i: int) -> bool:
    """Whether token i + 1 is capitalised and follows token i after a space or a comma."""
    return i + 1 < len(toks) and text[toks[i + 1][0]].isupper() \
        and bool(_SPACE_OR_COMMA.fullmatch(text[toks[i][1]:toks[i + 1][0]]))


def name_like(text: str) -> list[tuple[int, int]]:
    """Spans that look like a name though the CRM does not know it: two or more capitalised words
    inside a sentence ('haar buurman Henk Brouwer') or opening a sentence or a clause ('Henk
    Brouwer belde', 'Contactpersoon: Henk Brouwer'), or one after a word for a relation ('mijn vrouw
    Anna'), a greeting or a title ('Beste Henk,', 'Mevrouw Jansen belde'); an opening word such as
    'Bel' or a title is left out of the span, so the subject's own name stays theirs. For where
    hiding too much is the safe side: a third person in an access export (Art. 15(4)); a place ('in
    Den Haag') is hidden too, words in ``NOT_NAMES`` alone are not."""
    toks = [(m.start(), m.end(), m.group().lower()) for m in NAME_TOKEN.finditer(text)]
    out, done = [], -1
    for i in range(len(toks)):
        s = toks[i][0]
        if i <= done or not text[s].isupper():
            continue
        first = i
        if _opens(text, toks, i):
            one_will_do = False
            if toks[i][2] in OPENERS:  # 'Bel Henk Brouwer terug', 'Mail van Henk'
                if not _next_capitalised(text, toks, i):
                    continue
                first = i + 1
        elif _SPACE_OR_COMMA.fullmatch(text[toks[i - 1][1]:s]) and text[toks[i - 1][0]].islower():
            one_will_do = toks[i - 1][2] in RELATIONS
        else:
            continue  # right after a capitalised word inside a sentence: part of a run already looked at
        while toks[first][2] in _LEADS and _next_capitalised(text, toks, first):
            first, one_will_do = first + 1, True  # 'Beste Henk,', 'Mevrouw Jansen'
        if (hit := _capitalised(text, toks, first, 0.5)) is None:
            continue
        words = range(first, hit[3] + 1)
        if all(toks[k][2] in NOT_NAMES or toks[k][2] in _PARTICLES for k in words):
            continue
        if one_will_do or sum(text[toks[k][0]].isupper() for k in words) > 1:
            out.append((hit[0], hit[1]))
            done = hit[3]
    return out


class KnownPersonsRecognizer(EntityRecognizer):
    """PERSON spans of customers and leads the CRM knows, plus their exact e-mail addresses."""

    def __init__(self, index: PersonIndex, language: str):
        self.index = index
        super().__init__(supported_entities=["PERSON", "EMAIL_ADDRESS"], supported_language=language,
                         name="klantkluis_known_persons")

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        out = [RecognizerResult("PERSON", s, e, score) for s, e, score in self.index.find(text)]
        if "@" in text and self.index.emails:  # backstop for addresses the generic regex may miss
            for m in re.finditer(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+", text):
                value = m.group().rstrip(".")
                if value.lower() in self.index.emails:
                    out.append(RecognizerResult("EMAIL_ADDRESS", m.start(), m.start() + len(value), 1.0))
        return [r for r in out if not entities or r.entity_type in entities]
