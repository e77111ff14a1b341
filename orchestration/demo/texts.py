"""Demo free text (call notes, e-mails, chats, NPS comments) with ground-truth spans of planted PII.

The texts exist to test the redaction of Art. 5(1)(c) (minimisation) and Art. 15(4) (rights of
others in an access export): they mention the customer, sometimes a third person from the CRM,
and non-personal look-alikes (order numbers, amounts, other dates, product codes) so that
precision is measured as well as recall. All randomness is drawn up front from the caller's
numpy Generator in arrays; the per-text loop only concatenates pre-parsed template pieces, which
keeps 100 k texts at a few seconds.
"""

import gc
import re
from contextlib import contextmanager
from datetime import date

import numpy as np
import pandas as pd

from orchestration.demo.identifiers import bsn, iban, national, phone, render_phone

MONTHS = {"nl": "januari februari maart april mei juni juli augustus september oktober november december".split(),
          "en": "January February March April May June July August September October November December".split()}


def _date(y: int, m: int, d: int, lang: str, style: int) -> str:
    month = MONTHS[lang][m - 1]
    return (f"{d:02d}-{m:02d}-{y}", f"{d:02d}/{m:02d}/{y}", f"{d} {month} {y}", f"{y}-{m:02d}-{d:02d}",
            f"{d}-{m}-{y}", f"{month} {d}, {y}" if lang == "en" else f"{d:02d}.{m:02d}.{y}")[style % 6]


def _parse(template: str) -> tuple[str, int, tuple]:
    """'Bel {phone} nu' -> ('Bel ', 4, (('phone', 'PHONE_NUMBER', ' nu', 3),)): head, its length, slots."""
    parts = re.split(r"\{(\w+)\}", template.replace("\\n", "\n"))
    return parts[0], len(parts[0]), tuple((parts[k], ENTITY.get(parts[k]), parts[k + 1], len(parts[k + 1]))
                                          for k in range(1, len(parts), 2))


ENTITY = {"name": "PERSON", "first": "PERSON", "last": "PERSON", "oname": "PERSON", "olast": "PERSON",
          "email": "EMAIL_ADDRESS", "oemail": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER", "iban": "IBAN_CODE",
          "bsn": "NL_BSN", "pc": "NL_POSTCODE", "dob": "DATE_OF_BIRTH"}
# Voices: 'note' = agent's call note about the customer, 'cust' = the customer writing, 'reply' =
# the agent writing to the customer. One line per section, templates separated by ' | '.
TEMPLATES = {"nl": """
note.open: {name} belde over order {order}. | Inkomend gesprek met {title} {last} over de factuur van {amount}. | Klant {name} gebeld ivm retour van {sku}. | {Title} {last} belde terug naar aanleiding van ticket {ticket}. | Gesprek met {name}: wil het abonnement opzeggen per {date}. | Terugbelverzoek van {name} afgehandeld. | Klant belde over de levering van order {order}.
note.email: Nieuw e-mailadres doorgegeven: {email}. | Orderbevestiging opnieuw verstuurd naar {email}. | Klant wil voortaan mail ontvangen op {email}.
note.phone: Terugbellen op {phone} na {time}. | Telefoonnummer gewijzigd naar {phone}. | Klant is overdag bereikbaar op {phone}.
note.iban: Terugbetaling van {amount} naar {iban} klaargezet. | Nieuw rekeningnummer {iban} doorgegeven voor de incasso. | Klant betwist afschrijving, IBAN {iban} gecontroleerd.
note.bsn: Klant noemde ongevraagd BSN {bsn}, niet nodig voor deze aanvraag. | Burgerservicenummer {bsn} genoteerd voor de kredietcheck. | Klant las zijn BSN voor ({bsn}); gevraagd dit niet meer te delen.
note.pc: Verhuisd, nieuw adres: postcode {pc}. | Bezorgadres gecontroleerd op {pc}. | Pakket kwam niet aan op {pc}.
note.dob: Geboortedatum {dob} geverifieerd. | Klant is geboren op {dob}, leeftijdscontrole ok. | Identiteit bevestigd met geb. datum {dob}.
note.other: Belt namens {oname}, die ook klant is. | Pakket is afgegeven bij de buren, {oname}. | Klant werd doorverwezen door {oname}. | Wil dat {otitle} {olast} ook toegang krijgt tot het account. | {oname} was ook bij het gesprek aanwezig.
note.oemail: Factuur in cc naar {oemail} gestuurd op verzoek van klant. | Klant vraagt om ook {oemail} te mailen. | Kopie van de offerte naar {oemail}.
note.close: Opgevolgd door {am}. | Ticket {ticket} gesloten. | Actie: binnen 2 werkdagen terugbellen. | Doorgezet naar backoffice ({am}).
cust.open: Ik ben {name} en ik heb een vraag over order {order}. | Mijn naam is {name}, klant sinds {date2}. | Met {name}, ik wacht nog steeds op mijn bestelling. | U spreekt met {name}.
cust.email: Mijn nieuwe e-mailadres is {email}. | Wilt u de factuur naar {email} sturen? | Graag reageren via {email}.
cust.phone: U kunt mij bellen op {phone}. | Mijn telefoonnummer is gewijzigd, het is nu {phone}. | Bel me even terug op {phone} aub.
cust.iban: Het bedrag mag teruggestort worden op {iban}. | Mijn rekeningnummer is {iban}. | Graag voortaan afschrijven van {iban} in plaats van mijn oude rekening.
cust.bsn: Mijn BSN is {bsn}, als u dat nodig heeft. | Voor de zekerheid mijn burgerservicenummer: {bsn}.
cust.pc: Mijn adres is postcode {pc}. | Ik woon nu op {pc}. | Het pakket moet naar {pc}.
cust.dob: Mijn geboortedatum is {dob}. | Ik ben geboren op {dob}.
cust.other: Mijn buurvrouw {oname} is ook klant bij jullie. | Mijn partner {oname} belde vorige week al over hetzelfde. | {Otitle} {olast} heeft mij jullie aangeraden. | Ik bestel ook namens {oname}.
cust.oemail: Kunt u ook {oemail} in de cc zetten? | Stuur een kopie naar mijn zoon: {oemail}.
reply.open: Bedankt voor uw bericht. | Excuses voor het late antwoord. | Naar aanleiding van uw vraag over order {order} het volgende.
reply.email: We hebben uw e-mailadres gewijzigd naar {email}. | De bevestiging is verstuurd naar {email}.
reply.phone: We bellen u morgen terug op {phone}. | Klopt het dat uw nummer {phone} is?
reply.iban: Het bedrag van {amount} wordt binnen 5 werkdagen teruggestort op {iban}. | Wij hebben uw nieuwe IBAN {iban} verwerkt.
reply.bsn: U hoeft uw BSN ({bsn}) niet met ons te delen; wij hebben het verwijderd.
reply.pc: Uw bezorgadres is gewijzigd naar {pc}. | Kunt u bevestigen dat {pc} juist is?
reply.dob: Ter controle: uw geboortedatum is {dob}? | We hebben uw geboortedatum aangepast naar {dob}.
reply.other: We hebben contact opgenomen met {oname}. | Uw bestelling is afgeleverd bij {oname}.
reply.oemail: We hebben de kopie naar {oemail} gestuurd.
any.noise: Order {order} van {date} is onderweg, track & trace {track}. | Factuurnummer {inv}, bedrag {amount}. | Artikel {sku} is pas rond {date} weer leverbaar. | Betalingskenmerk {payref}. | KvK-nummer van de zaak: {kvk}. | De {model} is tijdelijk uitverkocht. | Retourzending {order} ontvangen op {date}, {amount} gecrediteerd. | Ordernummer {inv} is op {date} om {time} verzonden. | Klant sinds {date2}, contract loopt tot {date}. | Korting van 15% op {sku} toegepast, nieuw bedrag {amount}. | Vragen kunnen ook naar {corp}. | Geboortedatum en adres gecontroleerd op {date}.
nps.open: Prima service! | Snelle levering, netjes verpakt. | Te lang moeten wachten op de klantenservice. | Prijs-kwaliteit is goed. | Het retourneren was omslachtig. | Vriendelijk geholpen. | De app werkt niet altijd.
nps.name: Mijn naam is {name}, neem gerust contact op. | Groet, {name} | {name}, klant sinds {date2}.
greet.in: Beste klantenservice, | Hallo, | Geachte heer/mevrouw, | Goedemiddag,
greet.out: Beste {first}, | Geachte {title} {last}, | Hallo {first}, | Beste {title} {last},
sign.in: Met vriendelijke groet, | Groeten, | Mvg,
sign.out: Met vriendelijke groet,\\nTeam Klantenservice | Groet,\\nKlantenservice ({am})
chat.hello: Goedemiddag, waarmee kan ik u helpen? | Hoi! Waar kan ik je mee helpen?
chat.bye: Fijne dag nog! | Is er verder nog iets? | Graag gedaan.
""", "en": """
note.open: {name} called about order {order}. | Inbound call from {title} {last} regarding the invoice of {amount}. | Called {name} about the return of {sku}. | {Title} {last} called back re ticket {ticket}. | Spoke with {name}: wants to cancel the subscription as of {date}. | Call-back request from {name} handled. | Customer called about the delivery of order {order}.
note.email: Customer gave a new e-mail address: {email}. | Order confirmation resent to {email}. | Customer wants e-mails sent to {email} from now on.
note.phone: Call back on {phone} after {time}. | Phone number changed to {phone}. | Customer can be reached on {phone} during the day.
note.iban: Refund of {amount} to {iban} prepared. | New account number {iban} given for the direct debit. | Customer disputes a debit, checked IBAN {iban}.
note.bsn: Customer volunteered BSN {bsn}; not needed for this request. | Citizen service number {bsn} noted for the credit check.
note.pc: Moved, new address: postcode {pc}. | Checked delivery address {pc}. | Parcel did not arrive at {pc}.
note.dob: Date of birth {dob} verified. | Customer was born on {dob}, age check ok. | Identity confirmed with DOB {dob}.
note.other: Calling on behalf of {oname}, who is also a customer. | Parcel was left with the neighbour, {oname}. | Customer was referred by {oname}. | Wants {otitle} {olast} to get access to the account too.
note.oemail: Invoice cc'd to {oemail} at the customer's request. | Customer asks us to also e-mail {oemail}.
note.close: Follow-up by {am}. | Ticket {ticket} closed. | Action: call back within 2 working days.
cust.open: I am {name} and I have a question about order {order}. | My name is {name}, customer since {date2}. | This is {name}, I am still waiting for my order.
cust.email: My new e-mail address is {email}. | Could you send the invoice to {email}? | Please reply to {email}.
cust.phone: You can call me on {phone}. | My phone number has changed, it is now {phone}. | Please call me back at {phone}.
cust.iban: Please refund the amount to {iban}. | My account number is {iban}. | Please debit {iban} instead of my old account from now on.
cust.bsn: My BSN is {bsn}, in case you need it. | For the record, my citizen service number: {bsn}.
cust.pc: My address is postcode {pc}. | I now live at {pc}. | The parcel should go to {pc}.
cust.dob: My date of birth is {dob}. | I was born on {dob}.
cust.other: My neighbour {oname} is also a customer of yours. | My partner {oname} already called about the same issue last week. | {Otitle} {olast} recommended you to me. | I am also ordering on behalf of {oname}.
cust.oemail: Could you cc {oemail} as well? | Please send a copy to my son: {oemail}.
reply.open: Thank you for your message. | Apologies for the late reply. | Regarding your question about order {order}:
reply.email: We have changed your e-mail address to {email}. | The confirmation was sent to {email}.
reply.phone: We will call you back tomorrow on {phone}. | Is your number {phone} correct?
reply.iban: The amount of {amount} will be refunded to {iban} within 5 working days. | We have processed your new IBAN {iban}.
reply.bsn: There is no need to share your BSN ({bsn}) with us; we have deleted it.
reply.pc: Your delivery address has been changed to {pc}. | Could you confirm that {pc} is correct?
reply.dob: To verify: is your date of birth {dob}? | We have updated your date of birth to {dob}.
reply.other: We have contacted {oname}. | Your order was delivered to {oname}.
reply.oemail: We have sent the copy to {oemail}.
any.noise: Order {order} from {date} is on its way, tracking {track}. | Invoice number {inv}, amount {amount}. | Item {sku} will be back in stock around {date}. | Payment reference {payref}. | Chamber of Commerce (KvK) number {kvk}. | The {model} is temporarily sold out. | Return {order} received on {date}, {amount} credited. | Order number {inv} shipped on {date} at {time}. | Customer since {date2}, contract runs until {date}. | 15% discount applied to {sku}, new amount {amount}. | Questions can also go to {corp}. | Date of birth checked on {date}.
nps.open: Great service! | Fast delivery, well packed. | Waited too long for customer service. | Good value for money. | Returning was a hassle. | Friendly help. | The app does not always work.
nps.name: My name is {name}, feel free to contact me. | Regards, {name} | {name}, customer since {date2}.
greet.in: Dear customer service, | Hello, | Hi, | Dear Sir or Madam,
greet.out: Dear {first}, | Dear {title} {last}, | Hi {first}, | Hello {first},
sign.in: Kind regards, | Best, | Regards,
sign.out: Kind regards,\\nCustomer Service Team | Best regards,\\nCustomer Service ({am})
chat.hello: Good afternoon, how can I help you? | Hi! How can I help?
chat.bye: Have a nice day! | Anything else I can do? | You're welcome.
"""}
PARSED = {lang: {line.split(": ", 1)[0]: [_parse(t) for t in line.split(": ", 1)[1].split(" | ")]
                 for line in block.strip().splitlines()} for lang, block in TEMPLATES.items()}
for _sections in PARSED.values():
    _sections["sig"] = [_parse("{name}")]
ROLES = {"nl": ("Klant: ", "Medewerker: "), "en": ("Customer: ", "Agent: ")}
TITLES = {"nl": (("mevrouw", "mw.", "mevr."), ("meneer", "dhr.", "de heer")),  # (female, male) forms
          "en": (("Mrs", "Ms", "Mrs."), ("Mr", "Mr.", "Mr"))}
CORP = ("klantenservice@verkoop.example.nl", "noreply@verkoop.example.nl", "facturen@verkoop.example.nl",
        "privacy@verkoop.example.nl", "info@bakkerij.example.nl", "support@verkoop.example.nl")
PII = ("email", "phone", "iban", "bsn", "pc", "dob", "other", "oemail")
RATES = {"interaction": (.3, .3, .2, .07, .2, .15, .25, .1), "nps": (.1, .12, .05, .02, .06, .04, .12, .04)}
COLUMNS = ("first_name", "last_name", "email", "phone", "iban", "postcode", "house_number", "birth_date", "gender",
           "bsn", "street")
EPOCH = 730120  # date(2000, 1, 1).toordinal()


def _cols(df: pd.DataFrame) -> dict[str, list]:
    return {c: (df[c].tolist() if c in df.columns else [None] * len(df)) for c in COLUMNS}


def _ok(v) -> bool:
    return isinstance(v, str) and v.strip() != ""


def _ymd(ordinal: int) -> tuple[int, int, int]:
    d = date.fromordinal(ordinal)
    return d.year, d.month, d.day


def _slot_renderers(own: dict, oth: dict) -> dict:
    """slot -> f(r, lang, o, j, gen): renders one slot of a text from its pre-drawn integers r."""
    F, S, E, P, I, PC, HN, B, G, N, ST = (own[c] for c in COLUMNS)
    OF, OS, OE = oth["first_name"], oth["last_name"], oth["email"]
    cap = lambda t: t[:1].upper() + t[1:]  # 'meneer De Vries': particle capitalised without first name
    title = lambda r, L, o: TITLES[L][1 if G[o] == "M" else 0 if G[o] == "F" else r[8] % 2][r[8] // 2 % 3]
    mail = lambda e, f, s: e if _ok(e) else f"{f}.{s}@example.nl".lower().replace(" ", "")

    def iban_(r, L, o, j, g):
        v = I[o].replace(" ", "") if _ok(I[o]) else g[1]
        v = " ".join(v[k:k + 4] for k in range(0, len(v), 4)) if r[12] % 3 == 0 else v
        return v.lower() if r[12] % 10 == 7 else v  # typed in a chat

    def bsn_(r, L, o, j, g):
        v = N[o] if _ok(N[o]) else g[2]  # the CRM holds no BSN; an owners' 'bsn' column is used if given
        return (v, v, f"{v[:4]}.{v[4:6]}.{v[6:]}", f"{v[:3]} {v[3:6]} {v[6:]}", f"{v[:4]} {v[4:6]} {v[6:]}")[r[12] % 5]

    def pc_(r, L, o, j, g):
        pc, hn, x = str(PC[o] or "").replace(" ", "").upper(), str(HN[o] or "").strip(), r[20]
        if not re.fullmatch(r"[1-9]\d{3}[A-Z]{2}", pc):
            pc = f"{1000 + x % 9000}{chr(65 + x // 9000 % 17)}{chr(65 + x // 7 % 26)}"
        hn = hn if hn not in ("", "nan", "None") else str(1 + r[18] % 180)
        d, a, word = pc[:4], pc[4:], ("huisnummer" if L == "nl" else "house number")
        if r[10] % 5 == 4 and _ok(ST[o]):  # street, number and postcode: the full address
            return f"{ST[o]} {hn}, {d} {a}"
        return (f"{d} {a} {hn}", f"{d}{a} {hn}", f"{d} {a}, {word} {hn}", f"{d}{a}, nr. {hn}",
                f"{d} {a} {hn}")[r[10] % 5]

    def dob_(r, L, o, j, g):
        b = str(B[o] or "")
        known = re.match(r"\d{4}-\d\d-\d\d", b)
        ymd = (int(b[:4]), int(b[5:7]), int(b[8:10])) if known else _ymd(EPOCH - 7000 - r[20] % 20000)
        return _date(*ymd, L, r[11])

    def amount_(r, L, o, j, g):
        s = f"{(100 + r[20] % 250000) / 100:,.2f}"
        return "€ " + s.translate(_NL_NUMBER) if L == "nl" else "EUR " + s

    return {
        "name": lambda r, L, o, j, g: (f"{F[o]} {S[o]}".lower() if r[7] % 12 == 0    # typed in a hurry
                                       else f"{F[o][:1]}. {S[o]}" if r[7] % 12 == 1 else f"{F[o]} {S[o]}"),
        "first": lambda r, L, o, j, g: F[o],
        "last": lambda r, L, o, j, g: cap(S[o]), "title": lambda r, L, o, j, g: title(r, L, o),
        "Title": lambda r, L, o, j, g: cap(title(r, L, o)),
        "email": lambda r, L, o, j, g: mail(E[o], F[o], S[o]),
        "phone": lambda r, L, o, j, g: render_phone(national(P[o]) or g[0], r[9]),
        "iban": iban_, "pc": pc_, "dob": dob_, "amount": amount_,
        "bsn": bsn_,
        "oname": lambda r, L, o, j, g: f"{OF[j]} {OS[j]}", "olast": lambda r, L, o, j, g: cap(OS[j]),
        "otitle": lambda r, L, o, j, g: TITLES[L][r[14] % 2][r[14] // 2 % 3],
        "Otitle": lambda r, L, o, j, g: cap(TITLES[L][r[14] % 2][r[14] // 2 % 3]),
        "corp": lambda r, L, o, j, g: CORP[r[20] % len(CORP)],
        "oemail": lambda r, L, o, j, g: mail(OE[j], OF[j], OS[j]),
        "date": lambda r, L, o, j, g: _date(*_ymd(EPOCH + 8036 + r[18] % 1400), L, r[17]),   # 2022-2025
        "date2": lambda r, L, o, j, g: _date(*_ymd(EPOCH + 4383 + r[20] % 3600), L, r[17]),  # 2012-2021
        "order": lambda r, L, o, j, g: f"O{r[18] % 10**9:09d}",
        "inv": lambda r, L, o, j, g: str(100000000 + r[18] % 900000000),  # ~9 % pass the elfproef, like real ones
        "sku": lambda r, L, o, j, g: f"SKU-{1000 + r[20] % 9000}-{('S', 'M', 'L', 'XL')[r[20] // 9000 % 4]}",
        "ticket": lambda r, L, o, j, g: f"#{100000 + r[20] % 900000}",
        "kvk": lambda r, L, o, j, g: str(10000000 + r[18] % 90000000),
        "payref": lambda r, L, o, j, g: " ".join(f"{(r[20] * 2654435761 + r[18]) % 10**16:016d}"[k:k + 4]
                                                 for k in range(0, 16, 4)),
        "track": lambda r, L, o, j, g: f"3SKAB{r[18] % 10**10:010d}",
        "am": lambda r, L, o, j, g: f"AM{1 + r[20] % 12:02d}",
        "time": lambda r, L, o, j, g: f"{8 + r[20] % 10}:{r[20] // 10 % 4 * 15:02d}",
        "model": lambda r, L, o, j, g: f"{1000 + r[18] % 9000} {chr(65 + r[20] % 26)}{chr(65 + r[20] // 26 % 26)}",
    }


_NL_NUMBER = str.maketrans(",.", ".,")


def _plan(kind: str, lang: str, r: list, pii: list[tuple[str, int]]) -> tuple[str, str, list]:
    """Choose channel, direction and the sequence of (section, choice) or literal strings."""
    count = r[3] % 3 if kind == "interaction" else int(r[3] % 4 == 0)
    noise = [("any.noise", r[4]), ("any.noise", r[4] + 1 + r[5] % 9)][:count]  # two different sentences
    if kind == "nps":
        opening = [("nps.open", r[2])] if r[2] % 10 < 6 else []
        signed = [("nps.name", r[6])] if r[6] % 3 == 0 else []
        body = opening + [(f"cust.{s}", c) for s, c in pii] + noise + signed
        return "nps", "inbound", _join(body or [("nps.open", r[2])], " ")
    channel = ("call", "call", "call", "email", "email", "chat")[r[0] % 6]
    if channel == "call":
        close = [("note.close", r[6])] if r[6] % 2 else []
        return channel, ("inbound", "outbound")[r[1] % 3 == 0], _join([("note.open", r[2])] + [
            (f"note.{s}", c) for s, c in pii] + noise + close, " ")
    if channel == "email" and r[1] % 5 < 3:
        opening = [("cust.open", r[2])] if r[2] % 10 < 6 else []
        body = _join(opening + [(f"cust.{s}", c) for s, c in pii] + noise or [("nps.open", r[2])], " ")
        return channel, "inbound", [("greet.in", r[15]), "\n\n", *body, "\n\n", ("sign.in", r[16]), "\n", ("sig", 0)]
    if channel == "email":
        body = _join([("reply.open", r[2])] + [(f"reply.{s}", c) for s, c in pii] + noise, " ")
        return channel, "outbound", [("greet.out", r[15]), "\n\n", *body, "\n\n", ("sign.out", r[16])]
    cust, agent = ROLES[lang]
    lines = [[agent, ("chat.hello", r[15])], [cust, ("cust.open", r[2])]]
    for k, (s, c) in enumerate(pii):
        lines.append([agent, (f"reply.{s}", c)] if r[23] >> k & 1 else [cust, (f"cust.{s}", c)])
    lines += [[cust, item] for item in noise] + [[agent, ("chat.bye", r[16])]]
    return channel, "inbound", [part for k, line in enumerate(lines) for part in (["\n"] if k else []) + line]


def _join(items: list, sep: str) -> list:
    return [part for k, item in enumerate(items) for part in ([sep, item] if k else [item])]


def make_texts(rng: np.random.Generator, owners: pd.DataFrame, others: pd.DataFrame, n: int,
               kind: str = "interaction") -> list[dict]:
    """n texts about owners row i % len(owners): [{text, spans, language, owner_index, channel, direction}].

    kind is "interaction" (call notes, e-mails, chats) or "nps" (survey comments). spans are
    [{start, end, entity}] of every planted value; look-alikes are not spans.
    """
    if kind not in RATES:
        raise ValueError(f"kind must be one of {sorted(RATES)}")
    if n == 0:
        return []
    if owners.empty:
        raise ValueError("owners must hold at least one row: every text is about a customer")
    # Drawn at once (the same stream as ever), turned into Python lists one text at a time: as a
    # list of lists a million texts' integers alone would take about 1.3 GB.
    R = rng.integers(0, 2**31 - 1, size=(n, 24 + len(PII)))
    use = rng.random((n, len(PII))) < np.array(RATES[kind])
    lang = np.where(rng.random(n) < 0.7, "nl", "en").tolist()
    gen = list(zip(phone(rng, n).tolist(), iban(rng, n).tolist(), bsn(rng, n).tolist()))
    own, oth, n_own, n_oth = _cols(owners), _cols(others), len(owners), len(others)
    render, out = _slot_renderers(own, oth), []
    with _no_gc():
        for i in range(n):
            out.append(_one(i, R[i].tolist(), use[i].tolist(), lang[i], gen[i], own, oth, n_own, n_oth, render, kind))
    return out


@contextmanager
def _no_gc():
    """The loop makes no reference cycles; collections triggered by 100 k new dicts cost ~40 %."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _one(i, r, use, L, g, own, oth, n_own, n_oth, render, kind) -> dict:
    o = i % n_own
    j = r[13] % n_oth if n_oth else -1
    if j >= 0 and (oth["first_name"][j], oth["last_name"][j]) == (own["first_name"][o], own["last_name"][o]):
        j = (j + 1) % n_oth if n_oth > 1 else -1  # a third person must not be the data subject
    pii = sorted(((s, r[24 + k]) for k, s in enumerate(PII) if use[k] and (j >= 0 or s[0] != "o")),
                 key=lambda sc: sc[1] % 7919)
    channel, direction, plan = _plan(kind, L, r, pii)
    sections, buf, spans, pos = PARSED[L], [], [], 0
    for item in plan:
        if item.__class__ is str:
            buf.append(item)
            pos += len(item)
            continue
        options = sections[item[0]]
        head, pos_add, slots = options[item[1] % len(options)]
        buf.append(head)
        pos += pos_add
        for slot, entity, tail, tail_len in slots:
            value = render[slot](r, L, o, j, g)
            n = len(value)
            if entity:
                spans.append({"start": pos, "end": pos + n, "entity": entity})
            buf += (value, tail)
            pos += n + tail_len
    return {"text": "".join(buf), "spans": spans, "language": L, "owner_index": o,
            "channel": channel, "direction": direction}
