"""Free-text redaction: validators, recognizers, placeholders, and the Art. 15(4) access-export variant."""

import re
import socket
from datetime import date

import numpy as np
import pytest

from orchestration.demo.identifiers import bsn, iban
from orchestration.demo.texts import make_texts
from orchestration.redaction_eval import people
from privacy.recognizers import elfproef, iban_ok
from privacy.redact import ENTITIES, Redactor, own_values

KNOWN = [("Jan", "de Vries", "jan.devries@example.nl"), ("Anna", "Bakker", "a.bakker@example.nl"),
         ("Piet", "Jansen", None)]


@pytest.fixture(scope="module")
def redactor():
    return Redactor(KNOWN)


def found(redactor, text):
    return {(text[s["start"]:s["end"]], s["entity"]) for s in redactor.analyze(text)}


def test_elfproef_accepts_valid_and_rejects_invalid_bsn():
    assert elfproef("111222333") and elfproef("123456782") and elfproef("1112.22.333")
    assert not elfproef("123456789") and not elfproef("111222334") and not elfproef("12345678")
    assert all(elfproef(v) for v in bsn(np.random.default_rng(1), 2000))


def test_iban_checksum_with_and_without_spaces():
    assert iban_ok("NL91" "ABNA" "0417164300") and iban_ok("NL91 ABNA 0417 1643 00") and iban_ok("nl91abna0417164300")
    assert not iban_ok("NL91" "ABNA" "0417164301") and not iban_ok("NL19" "ABNA" "0417164300")
    assert all(iban_ok(v) for v in iban(np.random.default_rng(1), 2000, spaced=True))


def test_bsn_needs_checksum_and_yields_to_an_invoice_label(redactor):
    assert ("111222333", "NL_BSN") in found(redactor, "BSN 111222333 genoteerd.")
    assert ("1112.22.333", "NL_BSN") in found(redactor, "Mijn burgerservicenummer: 1112.22.333")
    assert not found(redactor, "BSN 123456789 klopt niet.")
    assert not found(redactor, "Factuurnummer 111222333, ordernummer 111222333.")


@pytest.mark.parametrize("phone", ["06-12345678", "0612345678", "+31 6 12345678", "+31 (0)6 1234 5678",
                                   "020-1234567", "0201234567", "(020) 1234567", "0111 123 456", "020 - 123 45 67"])
def test_dutch_phone_formats(redactor, phone):
    assert (phone, "PHONE_NUMBER") in found(redactor, f"Bel {phone} na 17:00.")


def test_lookalikes_are_not_personal_data(redactor):
    text = ("Order O000123456 van 06-12-2024 14:30, bedrag € 1.234,56, SKU-4821-XL, KvK 12345678, ticket #482913, "
            "betalingskenmerk 1234 5678 9012 3456. De 2300 XT is uitverkocht. Mail klantenservice@winkel.example.nl.")
    assert found(redactor, text) == set()


def test_postcode_with_house_number_and_dates_of_birth_in_context(redactor):
    spans = found(redactor, "Woont op 1234 AB 12, is geboren op 3 maart 1985; levering op 12-03-2024. "
                            f"Geboortedatum gecontroleerd op 12-05-{date.today().year - 1}.")  # any year: last year's
    assert spans == {("1234 AB 12", "NL_POSTCODE"), ("3 maart 1985", "DATE_OF_BIRTH")}


def test_a_date_counts_as_a_birth_date_by_the_year_it_is_read_in(redactor, monkeypatch):
    """Clock audit: the youngest birth year was fixed when the process started, so a code server
    running past New Year kept last year's."""
    import privacy.recognizers

    text = "Geboortedatum gecontroleerd op 12-05-2025."
    assert found(redactor, text) == set()  # a check made last year or so: no birth date
    monkeypatch.setattr(privacy.recognizers, "date", type("Later", (date,), {"today": classmethod(
        lambda cls: date(2037, 6, 1))}))
    assert found(redactor, text) == {("12-05-2025", "DATE_OF_BIRTH")}  # by 2037 it could be one


def test_known_person_in_another_customers_note_is_found(redactor):
    text = "Klant Jan de Vries belde. Pakket afgegeven bij de buren, Anna Bakker. Mevrouw Bakker was niet thuis."
    assert found(redactor, text) == {("Jan de Vries", "PERSON"), ("Anna Bakker", "PERSON"), ("Bakker", "PERSON")}
    assert found(redactor, "Beste Piet, J. de Vries en dhr. Jansen") == {
        ("Piet", "PERSON"), ("J. de Vries", "PERSON"), ("Jansen", "PERSON")}
    assert found(redactor, "Geachte heer/mevrouw, de bakker is dicht.") == set()


def test_no_network_access(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert Redactor(KNOWN).redact(["Mail jan@example.co.uk of piet@sub.example.museum"]) == [
        "Mail <EMAIL_ADDRESS> of <EMAIL_ADDRESS>"]


def test_no_planted_value_survives_on_a_generated_corpus():
    rng = np.random.default_rng(7)
    crm = people(rng, 300, "c")
    docs = make_texts(rng, crm, crm, 400, "interaction") + make_texts(rng, crm, crm, 100, "nps")
    redacted = Redactor(zip(crm["first_name"], crm["last_name"], crm["email"])).redact([d["text"] for d in docs])
    for doc, out in zip(docs, redacted):
        for span in doc["spans"]:
            value = doc["text"][span["start"]:span["end"]]
            assert not re.search(rf"(?<!\w){re.escape(value)}(?!\w)", out), (value, out)
            assert f"<{span['entity']}>" in out
    assert set(re.findall(r"<([A-Z_]+)>", " ".join(redacted))) == set(ENTITIES)


def test_redact_others_keeps_own_values_and_hides_the_third_person(redactor):
    me = {"first_name": "Jan", "last_name": "de Vries", "email": "jan.devries@example.nl", "phone": "06-12345678",
          "postcode": "1234 AB", "house_number": "12", "birth_date": "1985-03-03", "iban": "NL91" "ABNA" "0417164300"}
    text = ("Meneer De Vries (jan.devries@example.nl, +31 6 1234 5678, NL91 ABNA 0417 1643 00, geboren op 3 maart 1985) "
            "woont op 1234AB, huisnummer 12. Buurvrouw Anna Bakker (a.bakker@example.nl, 06-87654321) woont op 4321 ZZ 8.")
    out = redactor.redact_others([text, None], own_values(me))
    assert out[1] is None
    for own in ("De Vries", "jan.devries@example.nl", "+31 6 1234 5678", "NL91 ABNA 0417 1643 00", "3 maart 1985",
                "1234AB, huisnummer 12"):
        assert own in out[0]
    assert "Anna" not in out[0] and "Bakker" not in out[0] and "a.bakker" not in out[0] and "4321" not in out[0]
    assert out[0].count("<PERSON>") == 1 and "<EMAIL_ADDRESS>" in out[0] and "<PHONE_NUMBER>" in out[0]


@pytest.mark.parametrize("text, redacted", [
    ("Ik ben Klaas Vaak, bel 0612345678", "Ik ben <PERSON>, bel <PHONE_NUMBER>"),
    ("Mijn naam is L. van Vliet, klant sinds 2015.", "Mijn naam is <PERSON>, klant sinds 2015."),
    ("Hallo, ik heet Pieter de Groot-Smit.", "Hallo, ik heet <PERSON>."),
    ("My name is Ann Lee and I called.", "My name is <PERSON> and I called."),
    ("Gesprek met dhr. van der Berg over retour.", "Gesprek met dhr. <PERSON> over retour."),
    ("Mevrouw Vaak belde.", "Mevrouw <PERSON> belde."),
    ("Ik ben blij met de service, meneer belde terug.", "Ik ben blij met de service, meneer belde terug."),
])
def test_a_person_the_crm_does_not_know_is_found_after_a_title_or_an_introduction(redactor, text, redacted):
    assert redactor.redact([text]) == [redacted]


@pytest.mark.parametrize("text, exported", [
    ("Belde over haar buurman Henk Brouwer.", "Belde over haar buurman <PERSON>."),
    ("Mijn vrouw Anna belt morgen.", "Mijn vrouw <PERSON> belt morgen."),
    ("Called about my husband Peter Smith", "Called about my husband <PERSON>"),
    ("Met vriendelijke groet, Henk Brouwer", "Met vriendelijke groet, <PERSON>"),
    ("Ik ben Jan Smit en bel over mijn bestelling.", "Ik ben Jan Smit en bel over mijn bestelling."),  # own name
    ("Met vriendelijke groet,\nHenk Brouwer", "Met vriendelijke groet,\n<PERSON>"),  # a sign-off on its own line
    ("sprak met Jan Smit Maandag over de levering", "sprak met Jan Smit Maandag over de levering"),  # own name first
    ("Henk Brouwer belde gisteren.", "<PERSON> belde gisteren."),  # a name that opens a sentence
    ("Klant belde. Henk Brouwer ook.", "Klant belde. <PERSON> ook."),
    ("Beste Henk, dank voor je bericht.", "Beste <PERSON>, dank voor je bericht."),  # after a greeting
    ("Beste Jan, dank voor je bericht.", "Beste Jan, dank voor je bericht."),  # own first name
    ("Mevrouw Brouwer belde.", "Mevrouw <PERSON> belde."),
    ("Met vriendelijke groet,\nJ. Smit", "Met vriendelijke groet,\nJ. Smit"),  # own initial and last name
    ("Met vriendelijke groet,\nTeam Klantenservice", "Met vriendelijke groet,\nTeam Klantenservice"),
    ("Dear Sir or Madam, my husband Peter Smith called.", "Dear Sir or Madam, my husband <PERSON> called."),
    # an ordinary word opening a sentence is no part of a name, so the subject's own stays (review)
    ("Bel Jan Smit terug.", "Bel Jan Smit terug."),
    ("Bel Henk Brouwer terug.", "Bel <PERSON> terug."),
    ("Terugbellen Jan.", "Terugbellen Jan."),
    ("Via Google vond ik jullie.", "Via Google vond ik jullie."),
    ("Piet Smit belde.", "<PERSON> belde."),  # another Smit
    # a name after a colon, in brackets or after a dash (review)
    ("Contactpersoon: Henk Brouwer", "Contactpersoon: <PERSON>"),
    ("Gesprek (Henk Brouwer) over retour", "Gesprek (<PERSON>) over retour"),
    ("Klant belde - Henk Brouwer ook", "Klant belde - <PERSON> ook"),
    ("Opmerking: Klant belde terug.", "Opmerking: Klant belde terug."),
])
def test_an_access_export_hides_a_third_person_the_crm_does_not_know(text, exported):
    me = {"first_name": "Jan", "last_name": "Smit"}
    assert Redactor([]).redact_others([text], own_values(me)) == [exported]


def test_values_split_by_spaces_other_than_a_space_are_redacted_too(redactor):
    """Security review: text pasted from a web page or an e-mail client holds non-breaking spaces,
    full-width characters or invisible ones; each hid a phone number, an IBAN or a name."""
    texts = ["Bel 06\xa012345678 of mail jan.devries\uff20example.nl",
             "IBAN NL91\xa0ABNA\xa00417\xa01643\xa000, postcode 1234\u202fAB",
             "Gesprek met Jan\xa0de\xa0Vries en mevrouw\xa0Jansen",
             "Tel \uff10\uff16\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18, IBAN NL91\u200bABNA0417164300",
             "Bel 06\u200e12345678, 06\u201112345678 of 06\u180e12345678; mail jan.devries\u200e@example.nl 👩\u200d💻"]
    redacted = redactor.redact(texts)
    assert redacted[0] == "Bel <PHONE_NUMBER> of mail <EMAIL_ADDRESS>"
    assert redacted[1] == "IBAN <IBAN_CODE>, postcode <NL_POSTCODE>"
    assert "Vries" not in redacted[2] and "Jansen" not in redacted[2]
    assert redacted[3] == "Tel <PHONE_NUMBER>, IBAN <IBAN_CODE>"
    # direction marks, a non-breaking hyphen, a Mongolian vowel separator; the rest stays as written
    assert redacted[4] == "Bel <PHONE_NUMBER>, <PHONE_NUMBER> of <PHONE_NUMBER>; mail <EMAIL_ADDRESS> 👩\u200d💻"
    # a name typed on a Mac (decomposed accents), a variation selector, a Hangul filler (review)
    mac = Redactor([("Amélie", "Dubois", None)]).redact(["Gesprek met Ame\u0301lie Dubois (Ame\u0301lie)"])
    assert mac == ["Gesprek met <PERSON> (Ame\u0301lie)"]  # the rest stays as written, decomposed
    assert redactor.redact(["Bel 06\ufe0f12345678 of 06\u316412345678"]) == ["Bel <PHONE_NUMBER> of <PHONE_NUMBER>"]
    # the subject's own values stay in their access export as they were typed
    [own] = redactor.redact_others(["Bel 06\xa012345678, of 06\xa087654321 (\u00e9\u0301)"], keep={"0612345678"})
    assert own == "Bel 06\xa012345678, of <PHONE_NUMBER> (\u00e9\u0301)"


def test_every_format_character_of_this_unicode_version_sends_a_text_through_the_careful_reading():
    """The quick path (a text already in NFKC) must not skip a character that shows nothing."""
    import unicodedata

    from privacy.redact import _SPECIAL

    assert [hex(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf" and not _SPECIAL.match(chr(c))] == []
