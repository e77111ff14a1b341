"""Fixed wording, in Dutch and English, for the access export and the receipts (Art. 12(1):
concise, transparent, intelligible, in clear and plain language)."""

import re

RIGHTS = {
    "rectification": ("16", "U kunt onjuiste gegevens laten verbeteren en onvolledige laten aanvullen.",
                      "You can have inaccurate data corrected and incomplete data completed."),
    "erasure": ("17", "U kunt ons vragen uw gegevens te wissen; wat wij volgens de wet moeten bewaren "
                      "(zoals facturen: 7 jaar), bewaren wij zonder gegevens waarmee u te identificeren bent.",
                "You can ask us to erase your data; what the law obliges us to keep (such as invoices, "
                "7 years) we keep without data that identifies you."),
    "restriction": ("18", "U kunt vragen de verwerking tijdelijk te beperken, bijvoorbeeld terwijl wij "
                          "een verzoek om verbetering beoordelen; onze functionaris gegevensbescherming "
                          "handelt zo'n verzoek af.",
                    "You can ask us to restrict processing for a time, for example while we assess "
                    "a request for rectification; our data protection officer handles such a request."),
    "objection": ("21", "Maakt u bezwaar tegen direct marketing (ook tegen profilering daarvoor), dan stoppen "
                        "wij daar altijd mee: u krijgt dan meteen geen marketing meer van ons. U kunt ook "
                        "bezwaar maken tegen verwerking op grond van ons gerechtvaardigd belang, zoals segmentatie: "
                        "onze functionaris gegevensbescherming beoordeelt dat, en wij stoppen ermee tenzij wij dwingende "
                        "gerechtvaardigde gronden hebben.",
                  "An objection to direct marketing (including profiling for it) we always carry out: you "
                  "leave our marketing at once. You can also object to processing based on our legitimate "
                  "interest, such as segmentation: our data protection officer assesses it, and we stop "
                  "unless we have compelling legitimate grounds."),
    "data_portability": ("20", "U ontvangt uw gegevens in JSON en CSV, zodat u ze kunt meenemen.",
                         "You receive your data as JSON and CSV, so that you can take it elsewhere."),
    "withdraw_consent": ("7(3)", "U kunt gegeven toestemming altijd intrekken; dat geldt vanaf dat moment.",
                         "You can withdraw consent at any time; this applies from that moment on."),
}
# The erasure receipt's explanation (Art. 12(1), 17): what was done, what is kept and why.
ERASED = ("Wij hebben uw gegevens gewist: ze zijn verwijderd uit ons datawarehouse en uit de kopieën voor rapportage.",
          "We have erased your data: it is removed from our data warehouse and from the copies for reporting.")
ERASED_KEY = ("De sleutel waarmee wij uw gegevens versleutelden, is vernietigd, zodat die versleutelde gegevens niet "
              "meer te lezen zijn met de sleutels die wij gebruiken; alleen een reservekopie van onze sleutelopslag "
              "van vóór de wissing bevat die sleutel nog (zelf ook versleuteld), totdat die reservekopie vervalt.",
              "Your key is destroyed, so your encrypted data can no longer be read with the keys we use; a backup of "
              "our key store made before the erasure still holds your key, itself encrypted, until that backup "
              "expires.")
NO_KEY = ("Wij hadden geen sleutel voor uw gegevens, dus ook geen versleutelde gegevens van u.",
          "We held no key for you, so no encrypted data of yours either.")
SUPPRESSED = ("Levert een van onze systemen uw gegevens later opnieuw aan, dan laden wij ze niet opnieuw in (art. 17 "
              "en 19 AVG).",
              "Should one of our systems deliver your data again, we skip it (Art. 17 and 19 GDPR).")
ERASED_NOTHING = ("Wij vonden geen gegevens over u; er was niets te wissen.",
                  "We found no data about you; there was nothing to erase.")
ERASED_KEPT = ("Uw bestellingen bewaren wij tot {}, omdat de wet dat vereist (de fiscale bewaarplicht, art. 17 "
               "lid 3 onder b AVG): in ons datawarehouse zonder uw naam, klantnummer of ander verband met u, al "
               "staan ze met datum en bedrag ook in onze boekhouding. Daarna blijven ze alleen over als anonieme "
               "verkoopregels.",
               "Your orders we keep until {}, because the law requires it (the fiscal duty to keep records, "
               "Art. 17(3)(b) GDPR): in our data warehouse without your name, customer number or any other link "
               "to you, though their date and amount are in our bookkeeping too. After that they remain only as "
               "anonymous sales lines.")
# What became of the subject's access exports (Art. 15) at an erasure (orchestration.requests.erasure._exports).
ERASED_EXPORT = ("Het overzicht van uw gegevens dat wij u eerder bezorgden, hebben wij gewist zodra het bezorgd was; "
                 "wat u daarvan bewaart, beheert u zelf.",
                 "The copy of your data that we delivered to you earlier we erased as soon as it was delivered; "
                 "whatever you keep of it is in your own hands.")
EXPORT_KEPT_FOR_DELIVERY = (
    "Het overzicht van uw gegevens dat u opvroeg en dat wij u nog niet bezorgden, bewaren wij alleen om het u te "
    "bezorgen: tot en met {}, of korter als het eerder bij u is; daarna wissen wij het.",
    "The copy of your data that you asked for and that we have not delivered to you yet is kept only to deliver it to "
    "you: until {}, or less if you have it sooner; then we erase it.")
EXPORT_ERASED_UNDELIVERED = (
    "Het overzicht van uw gegevens dat u opvroeg, hadden wij u nog niet bezorgd; wij hebben geen termijn om het te "
    "bewaren, dus is het met uw gegevens gewist.",
    "The copy of your data that you asked for had not been delivered to you yet; we have no period for keeping it, so "
    "it has been erased with your data.")
ERASED_RECORDS = ("Als bewijs bewaren wij uw verzoeken en onze bevestigingen daarvan ({records} jaar) en ons "
                  "logboek ({log} jaar), met alleen een code in plaats van uw naam, en een aantekening dat uw "
                  "gegevens niet opnieuw worden geladen.",
                  "As proof we keep your requests and our receipts for them ({records} years) and our log ({log} "
                  "years), with only a code instead of your name, and a note that your data is not to be loaded "
                  "again.")
# The placeholders redaction leaves in a text (privacy.redact.ENTITIES), as a page shows them.
HIDDEN = {"PERSON": ("naam", "name"), "EMAIL_ADDRESS": ("e-mailadres", "e-mail address"),
          "PHONE_NUMBER": ("telefoonnummer", "phone number"), "IBAN_CODE": ("rekeningnummer", "account number"),
          "NL_BSN": ("BSN", "citizen service number"), "NL_POSTCODE": ("adres", "address"),
          "DATE_OF_BIRTH": ("geboortedatum", "date of birth")}
HIDDEN_AS = ("[{} afgeschermd]", "[{} hidden]")
# What stays in the landing files after an erasure ({days}: their rule's), and who erases at the source.
LANDING_FILES_KEPT = (
    "De exportbestanden van onze bronsystemen vallen buiten het datawarehouse; ze worden {days} dagen "
    "nadat ze geladen zijn verwijderd (een bestand dat niet door onze invoercontrole komt, pas nadat het is "
    "hersteld), en tot dan blijven uw gegevens daarin staan. Het wissen in de bronsystemen zelf verloopt via hun "
    "eigen procedure (ook daar geldt art. 17 AVG).",
    "The export files of our source systems are outside the data warehouse; they are removed {days} days "
    "after they were loaded (a file that fails our input checks only once it is fixed), and until then your data "
    "stays in them. Erasure in the source systems themselves follows their own procedure (Art. 17 GDPR applies "
    "there too).")
# An access request (Art. 15(1)) after an erasure: when, followed by what is still kept (ERASED_KEPT,
# the landing files' note, ERASED_RECORDS) in the erasure receipt's own words.
ERASED_ON = ("Wij hebben uw gegevens gewist op {}.", "We erased your data on {}.")
# Art. 12(3): a deadline extended by two further months; the requester is told why within the first.
EXTENSION_REASONS = {"complexity": ("uw verzoek ingewikkeld is", "your request is complex"),
                     "number_of_requests": ("wij veel verzoeken tegelijk ontvingen",
                                            "we received many requests at the same time")}
EXTENDED = ("Wij hebben meer tijd nodig om uw verzoek van {received} te beantwoorden, omdat {reason}. U krijgt ons "
            "antwoord uiterlijk op {due} (art. 12 lid 3 AVG).",
            "We need more time to answer your request of {received}, because {reason}. You will have our answer "
            "by {due} at the latest (Art. 12(3) GDPR).")
COMPLAINT = ("U kunt een klacht indienen bij de Autoriteit Persoonsgegevens (art. 77 AVG), en u kunt naar de "
             "rechter stappen (art. 79 AVG).",
             "You have the right to lodge a complaint with the Dutch supervisory authority, the "
             "Autoriteit Persoonsgegevens (Art. 77 GDPR), and to seek a judicial remedy (Art. 79 GDPR).")
SOURCES = {
    "crm": ("ons CRM-systeem: wat u ons als klant of mogelijke klant gaf en onze contacten met u",
            "our CRM system: what you gave us as a customer or lead, and our contacts with you"),
    "shop": ("ons ordersysteem: uw bestellingen", "our order system: your orders"),
    "survey": ("ons enquêtesysteem: uw antwoorden", "our survey tool: your answers"),
    "warehouse": ("onze laadadministratie: regels die wij niet konden verwerken",
                  "our load records: rows we could not load"),
}
# How a lead's data reached us (the lead_source column), Art. 14(2)(f) and 15(1)(g).
LEAD_SOURCES = {
    "website": ("u vulde een formulier in op onze website", "you filled in a form on our website"),
    "fair": ("wij ontmoetten u op een beurs", "we met you at a trade fair"),
    "referral": ("iemand verwees u naar ons", "someone referred you to us"),
    "purchased_list": ("een adreslijst die wij kochten van een leverancier, niet van u zelf",
                       "a list of contacts we bought from a supplier, not from you"),
    "campaign": ("u reageerde op een van onze campagnes", "you responded to one of our campaigns"),
}
BOUGHT_FROM = ("een adreslijst die wij kochten van {}, niet van u zelf", "a list of contacts we bought from {}, not from you")


def lead_source(code: str) -> tuple[str, str] | None:
    """How a lead's data reached us, in words (Art. 14(2)(f), 15(1)(g)): a code of LEAD_SOURCES, or
    a bought list with its supplier named, ``purchased_list:<supplier>``; None for another value."""
    kind, colon, supplier = code.partition(":")
    if colon and kind.strip() == "purchased_list" and supplier.strip():
        return BOUGHT_FROM[0].format(supplier.strip()), BOUGHT_FROM[1].format(supplier.strip())
    return LEAD_SOURCES.get(code)


LEAD_ORIGIN = ("ons CRM-systeem; uw gegevens kregen wij via: {}", "our CRM system; your details reached us through: {}")
DERIVED = ("door ons berekend uit de gegevens hierboven", "computed by us from the data above")
# What is kept of every subject found besides their rows in the warehouse, by its retention rule, and
# where (Art. 15(1)(d): every period, not only those of the tables shown).
KEPT_ELSEWHERE = {
    "landing_files": ("aangeleverde bestanden: de exports zoals wij ze ontvingen",
                      "landing files: the exports as delivered"),
    "lookup_indexes": ("opzoekindex voor verzoeken", "request lookup index"),
    "data_keys": ("sleutelopslag", "key store"),
    "audit_log": ("logboek van onze verwerkingen", "audit log"),
    "request_records": ("register van verzoeken", "request ledger"),
    "access_exports": ("uitgaande map, waar ook deze kopie staat", "outbox, which holds this copy"),
    "run_history": ("technisch logboek van onze verwerkingsruns, met alleen codes, zoals die van uw verzoek",
                    "technical log of our runs, with codes only, such as your request's"),
}
CATEGORIES = {
    "direct_identifier": ("Direct identificerend (naam, contactgegevens, adres, IBAN, geboortedatum, vrije tekst); "
                          "versleuteld opgeslagen", "Directly identifying (name, contact details, address, IBAN, "
                          "birth date, free text); stored encrypted"),
    "quasi_identifier": ("Indirect identificerend (pseudoniem: een code in plaats van uw klantnummer; leeftijdsklasse, "
                         "postcodegebied, woonplaats, datums)",
                         "Indirectly identifying (pseudonymous id, age band, postcode area, city, dates)"),
    "special_category": ("Bijzondere persoonsgegevens", "Special categories of personal data"),
    "non_personal": ("Overige gegevens (bestellingen, scores, toestemmingen, segmenten)",
                     "Other data (orders, scores, consents, segments)"),
    "linked_to_a_subject": ("Overige gegevens over u, aan u gekoppeld via uw pseudoniem (bestellingen, scores, "
                            "toestemmingen, segmenten)",
                            "Other data about you, linked to you through your pseudonym (orders, scores, consents, "
                            "segments)"),
}
SIGNIFICANCE = {
    "analytics": ("Dit helpt ons onze klanten te begrijpen; op zichzelf leidt het niet tot een besluit over u. "
                  "Sommige van deze uitkomsten tellen mee in de keuzes bij 'Belangrijkste klanten: uw accountmanager' "
                  "en 'Of en hoe wij u aanbiedingen sturen'.",
                  "This helps us understand our customers; on its own it leads to no decision about you. Some of these "
                  "results count in the choices under 'Key accounts: your account manager' and 'Whether and how we "
                  "send you offers'."),
    "account_management": ("Dit kan betekenen dat een accountmanager contact met u opneemt.",
                           "This may mean that an account manager contacts you."),
    "direct_marketing": ("Dit bepaalt welke aanbiedingen u krijgt, alleen met uw toestemming.",
                         "This determines which offers you receive, only with your consent."),
}
NO_SOLELY_AUTOMATED = ("Wij nemen over u geen besluiten die uitsluitend op geautomatiseerde verwerking berusten en "
                       "waaraan rechtsgevolgen voor u zijn verbonden of die u anderszins in aanmerkelijke mate treffen "
                       "(art. 22 AVG).",
                       "No decision based solely on automated processing that has legal or similarly significant "
                       "effects on you is taken (Art. 22 GDPR).")
VIEWS = ("Deze weergaven (views) slaan zelf niets op: ze tonen de gegevens uit de datasets in dit pakket, "
         "ontdubbeld en met vaste kolomtypen.",
         "These views store nothing themselves: they show the data of the datasets in this package, "
         "deduplicated and typed.")
NOT_FOUND = ("Wij verwerken geen persoonsgegevens over u in het datawarehouse.",
             "We do not process personal data about you in the data warehouse.")
FOUND = ("Ja, wij verwerken persoonsgegevens over u. Hieronder staat welke, waarom en hoe lang.",
         "Yes, we process personal data about you. Below is which data, why, and for how long.")

NOTHING_FOUND = ("Wij vonden met de gegevens uit uw verzoek geen klant of mogelijke klant in ons datawarehouse; er "
                 "is niets gewijzigd.",
                 "We found no customer or lead with this identifier in the data warehouse; nothing was changed.")
# A rectification ({field}: the field's heading on the pages; {days}: the landing files' rule), and what
# still holds the old value: the landing file it was loaded from, and the source system (Art. 16, 19).
RECTIFIED = ("Wij hebben '{field}' in uw gegevens verbeterd: de juiste waarde vervangt de oude in ons datawarehouse, "
             "ook in de eerdere versies die wij daar bewaren; de overzichten die wij daaruit berekenen, worden "
             "bijgewerkt zodra wij ze opnieuw berekenen. De exportbestanden van onze bronsystemen, waaruit wij de "
             "oude waarde laadden, vallen daarbuiten: ze worden {days} dagen nadat ze geladen zijn verwijderd. "
             "Het verbeteren in de bronsystemen zelf verloopt via hun eigen procedure (ook daar geldt art. 16 AVG).",
             "We have rectified '{field}' in your data: the correct value replaced the old one in our data warehouse, "
             "also in the earlier versions we keep there; the overviews we compute from it follow on their next "
             "build. The export files of our source systems, from which we loaded the old value, are outside it: "
             "they are removed {days} days after they were loaded. Rectification in the source systems themselves "
             "follows their own procedure (Art. 16 GDPR applies there too).")
UNCONFIRMED_ADDRESS = ("Wij kunnen niet nagaan dat dit e-mailadres nu van u is: het hoorde bij een klantgegeven dat wij "
                       "niet meer hebben. Stuur uw verzoek opnieuw met uw klantnummer, of neem contact met ons op, "
                       "zodat wij zeker weten dat het om uw gegevens gaat.",
                       "We cannot confirm that this e-mail address is yours now: it belonged to a customer record we "
                       "no longer hold. Please send your request again with your customer number, or contact us, so "
                       "we know for sure that it is about your data.")
NOT_ACCEPTED = ("De nieuwe waarde voor '{field}' heeft geen vorm die wij kunnen opslaan (zoals een geldig IBAN, "
                "of een postcode als 1234 AB); er is niets gewijzigd. Denkt u dat die toch klopt, neem dan contact "
                "met ons op.",
                "The new value for '{field}' does not have a form we can store (such as a valid IBAN, or a postcode "
                "like 1234 AB); nothing was changed. If you believe it is right, please contact us.")
# Art. 21(2)-(3) end direct marketing only; {purposes}: the plain names of the purposes on legitimate
# interest that go on (privacy.rights.consent.continuing_after_objection), which Art. 21(1) covers.
OBJECTED = ("Wij gebruiken uw gegevens vanaf nu niet meer voor direct marketing: {stopped} (art. 21 lid 2 en 3 AVG). "
            "Op grond van ons gerechtvaardigd "
            "belang (art. 6 lid 1 onder f AVG) gebruiken wij uw gegevens nog wel voor: {purposes}. U blijft dus "
            "ingedeeld in klantgroepen voor onze analyse, en hoort u bij onze grootste klanten, dan heeft u een vaste "
            "accountmanager, die contact met u kan opnemen. Ook daartegen kunt u bezwaar maken (art. 21 lid 1 AVG): "
            "onze functionaris gegevensbescherming beoordeelt dat, en wij stoppen ermee tenzij wij dwingende "
            "gerechtvaardigde gronden hebben.",
            "From now on we no longer use your data for direct marketing: {stopped} (Art. 21(2) and (3) GDPR). On our legitimate interest (Art. 6(1)(f) GDPR) we do "
            "still use your data for: {purposes}. So you stay in customer groups for our analysis, and if you are one "
            "of our largest customers, you have a dedicated account manager, who may contact you. You can object to "
            "that too (Art. 21(1) GDPR): our data protection officer assesses it, and we stop unless we have "
            "compelling legitimate grounds.")
WITHDRAWN = ("Uw toestemming is vanaf nu ingetrokken voor: {purposes}. Andere toestemmingen blijven zoals ze waren.",
             "Your consent is withdrawn from now on for: {purposes}. Other consents stay as they were.")
LEAD_NOT_USED_SO = ("Uw gegevens als mogelijke klant (lead) gebruiken wij niet voor dit doel, en wij hebben geen "
                    "toestemming van u vastgelegd; er is niets gewijzigd. Wilt u niet meer door ons benaderd worden, "
                    "maak dan bezwaar (art. 21 AVG): dan wissen wij uw gegevens.",
                    "We do not use your details as a lead for this purpose, and no consent of yours is recorded; "
                    "nothing was changed. If you no longer want to be approached, we erase your details as a lead "
                    "on your objection (Art. 21 GDPR).")
LEAD_WITHDRAWAL_AS_OBJECTION = (
    "Wij behandelen uw verzoek als bezwaar tegen direct marketing (art. 21 lid 2 AVG): als mogelijke klant "
    "hebben wij u nooit om toestemming gevraagd.",
    "We take your request as an objection to direct marketing (Art. 21(2) GDPR): as a lead, you were never "
    "asked for consent.")
LEAD_ERASED = ("Uw gegevens als mogelijke klant (lead) zijn gewist: zulke gegevens bewaren wij alleen om u te "
               "benaderen (art. 17 lid 1 onder c AVG).",
               "Your details as a lead are erased: we keep a lead only to approach them (Art. 17(1)(c) GDPR).")

# The letter to the requester (privacy.rights.letter): what their request was about, and the fixed
# parts of a letter; the rest are the receipt's own texts in the request's language.
LETTER_TOPIC = {
    "access": ("uw verzoek om inzage in uw gegevens (art. 15 AVG)", "your request for access to your data (Art. 15 GDPR)"),
    "erasure": ("uw verzoek om uw gegevens te wissen (art. 17 AVG)", "your request to erase your data (Art. 17 GDPR)"),
    "rectification": ("uw verzoek om uw gegevens te verbeteren (art. 16 AVG)",
                      "your request to rectify your data (Art. 16 GDPR)"),
    "objection": ("uw bezwaar (art. 21 AVG)", "your objection (Art. 21 GDPR)"),
    "withdraw_consent": ("het intrekken van uw toestemming (art. 7 lid 3 AVG)",
                         "the withdrawal of your consent (Art. 7(3) GDPR)"),
}
LETTER = {"reference": ("Ons kenmerk", "Our reference"), "date": ("Datum", "Date"), "re": ("Betreft", "Re"),
          "received": ("ontvangen op", "received on"), "dear": ("Geachte heer, mevrouw,", "Dear Sir or Madam,"),
          "regards": ("Met vriendelijke groet,", "Kind regards,")}
ACCESS_SENT = ("Bijgaand ontvangt u ons antwoord, in het bestand {file}. Open daarin eerst {page}: daar staat welke "
               "gegevens wij over u verwerken, waarvoor, op welke grond en hoe lang, en welke rechten u hebt. De "
               "mappen json/ en csv/ bevatten uw gegevens zoals wij ze bewaren, om mee te nemen (art. 20 AVG).",
               "Please find our answer attached, in the file {file}. Open {page} in it first: it says which data we "
               "process about you, what for, on which grounds and for how long, and which rights you have. The "
               "folders json/ and csv/ hold your data as we store it, for you to take elsewhere (Art. 20 GDPR).")
# The letter with an export of someone we hold no data of (never did, or erased): the zip has no json/ or csv/.
ACCESS_SENT_NO_DATA = ("Bijgaand ontvangt u ons antwoord, in het bestand {file}. Open daarin {page}: daar staat of wij "
                       "gegevens over u bewaren, en welke rechten u hebt.",
                       "Please find our answer attached, in the file {file}. Open {page} in it: it says whether we "
                       "keep data about you, and which rights you have.")


LANGUAGES = ("nl", "en")  # of every text here, and so of requests and receipts
# A legal basis of Art. 6(1) in clear language, and how the Dutch cite it (art. 6 lid 1 onder b AVG).
BASES = {"a": ("uw toestemming", "your consent"),
         "b": ("nodig voor de overeenkomst met u", "needed for our contract with you"),
         "c": ("een wettelijke verplichting", "a legal duty"),
         "f": ("ons gerechtvaardigd belang; u kunt daartegen bezwaar maken", "our legitimate interest; you may object to it")}


def basis(cited: str, lang: str) -> str:
    """'Art. 6(1)(b) GDPR' as 'needed for our contract with you (Art. 6(1)(b) GDPR)', or in Dutch."""
    m = re.fullmatch(r"Art\. 6\(1\)\(([a-f])\) GDPR", cited)
    if m is None:
        return cited
    letter = m.group(1)
    reason = BASES.get(letter, ("", ""))[LANGUAGES.index(lang)]
    law = cite_basis(f"6(1)({letter})", lang) if lang == "nl" else cited
    return f"{reason} ({law})" if reason else law


def cite_basis(basis: str, lang: str) -> str:
    """Legal grounds as the policy writes them ('6(1)(b)', '6(1)(a) + 9(2)(a)') as the Dutch cite them,
    'art. 6 lid 1 onder b AVG'; in English as they are."""
    return re.sub(r"(\d+)\((\d+)\)\(([a-z])\)", r"art. \1 lid \2 onder \3 AVG", basis) if lang == "nl" else basis


def cite(article: str, lang: str) -> str:
    """'Art. 16 GDPR' as the Dutch cite it: 'art. 16 AVG'; 'Art. 7(3) GDPR' as 'art. 7 lid 3 AVG',
    'Art. 6(1)(f) GDPR' as 'art. 6 lid 1 onder f AVG'."""
    if lang != "nl":
        return article
    dutch = article.replace("Art. ", "art. ").replace("GDPR", "AVG")
    return re.sub(r"(\d+)\((\d+)\)(?:\(([a-z])\))?", lambda m: f"{m[1]} lid {m[2]}" + (f" onder {m[3]}" if m[3] else ""),
                  dutch)


def both(pair: tuple[str, str]) -> dict[str, str]:
    """A (Dutch, English) pair as {"nl": ..., "en": ...}."""
    return {"nl": pair[0], "en": pair[1]}
