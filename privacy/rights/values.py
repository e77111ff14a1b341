"""What the codes stored in a column mean, in Dutch and English, for the pages of an access export
(Art. 12(1): intelligible, in clear and plain language; Art. 15(1)(h): the profiling results a
subject is placed in, such as an RFM segment, explained). Keyed by column name: a name means the
same wherever it occurs (``tier`` in the pyramid, the key accounts and the audience). A lead's
``lead_source`` is in ``texts.LEAD_SOURCES``, a consent ``purpose`` in ``policy.yml``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from privacy.rights import texts
from privacy.rights.consent import UNKNOWN_NOTICE

if TYPE_CHECKING:
    from privacy.policy import Policy
    from privacy.rights.access import Dataset

VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "action": {"granted": ("gegeven", "given"), "withdrawn": ("ingetrokken", "withdrawn")},
    "gender": {"F": ("vrouw", "female"), "M": ("man", "male"), "X": ("anders of niet opgegeven", "other or not stated")},
    "status": {"active": ("actief", "active"), "ended": ("beëindigd", "ended")},
    "relationship": {"active": ("actief", "active"), "ended": ("beëindigd", "ended")},
    "channel": {"call": ("telefoongesprek", "phone call"), "chat": ("chat", "chat"), "email": ("e-mail", "e-mail"),
                "app": ("onze app", "our app"), "phone": ("telefoon", "phone"), "store": ("winkel", "shop"),
                "web": ("website", "website"), "field": ("onze buitendienst", "our field sales"),
                "privacy_request": ("uw privacyverzoek", "your privacy request")},
    "direction": {"inbound": ("van u aan ons", "from you to us"), "outbound": ("van ons aan u", "from us to you")},
    "language": {"nl": ("Nederlands", "Dutch"), "en": ("Engels", "English")},
    "notice_version": {UNKNOWN_NOTICE: ("onbekend", "unknown")},
    "payment_method": {"creditcard": ("creditcard", "credit card"), "direct_debit": ("automatische incasso", "direct debit"),
                       "ideal": ("iDEAL", "iDEAL"), "invoice": ("op factuur", "by invoice")},
    "product_category": {"furniture": ("meubilair", "furniture"), "hardware": ("hardware", "hardware"),
                         "office": ("kantoorartikelen", "office products"), "service": ("service", "service"),
                         "software": ("software", "software"), "supplies": ("verbruiksartikelen", "supplies"),
                         "training": ("training", "training")},
    "population": {"customer": ("klant", "customer"), "lead": ("geïnteresseerde (lead)", "prospective customer (lead)")},
    "tier": {"top": ("top: de klanten met de hoogste omzet", "top: the customers with the highest revenue"),
             "large": ("groot: de laag onder de top", "large: the layer below the top"),
             "medium": ("middelgroot", "medium"), "small": ("klein", "small"),
             "inactive": ("inactief: geen recente bestelling, of de klantrelatie is beëindigd",
                          "inactive: no recent order, or the relationship ended"),
             "prospect": ("prospect: wij hadden contact, maar er is geen bestelling",
                          "prospect: we were in touch, but there is no order"),
             "suspect": ("suspect: nog geen contact gehad", "suspect: not contacted yet")},
    "stage": {"potential": ("mogelijke klant", "potential customer"), "new": ("nieuwe klant", "new customer"),
              "loyal": ("trouwe klant", "loyal customer"), "ex_customer": ("oud-klant", "former customer"),
              "prospect": ("prospect: wij hadden contact", "prospect: we were in touch"),
              "suspect": ("suspect: nog geen contact gehad", "suspect: not contacted yet")},
    "detail": {"active": ("actieve klant", "active customer"),
               "customer_without_orders": ("klant zonder bestellingen", "customer without orders"),
               "ended": ("klantrelatie beëindigd", "relationship ended"),
               "lapsed": ("al lang geen bestelling", "no order for a long time"),
               "prospect": ("prospect: wij hadden contact", "prospect: we were in touch"),
               "suspect": ("suspect: nog geen contact gehad", "suspect: not contacted yet")},
    "trend": {"growing": ("groeiend", "growing"), "declining": ("dalend", "declining"), "new": ("nieuw", "new"),
              "returning": ("terugkerend", "returning")},
    "segment": {  # the RFM segments of seeds/rfm_segments.csv: recency, frequency and spend
        "Champions": ("Topklanten: kochten kort geleden, vaak en het meest", "Champions: bought recently and often, and spend the most"),
        "Loyal": ("Trouw: kopen vaak en veel", "Loyal: buy often and spend a lot"),
        "Potential Loyalist": ("Mogelijk trouw: recente klant, gemiddeld vaak en veel",
                               "Potential loyalist: a recent customer, of average frequency and spend"),
        "New Customers": ("Nieuw: kocht kort geleden, maar zelden", "New customer: bought very recently but rarely"),
        "Promising": ("Veelbelovend: recent, maar weinig en kleine aankopen", "Promising: recent, but few and small purchases"),
        "Need Attention": ("Aandacht nodig: gemiddeld recent, vaak en veel", "Needs attention: average recency, frequency and spend"),
        "About To Sleep": ("Bijna slapend: onder het gemiddelde", "About to sleep: below average"),
        "Can't Lose Them": ("Niet kwijtraken: kocht vaak en veel, maar lang geleden",
                            "Can't lose them: used to buy often and much, but not recently"),
        "At Risk": ("Risico: gemiddelde klant die lang niets kocht", "At risk: an average customer who has not bought for long"),
        "Hibernating": ("Slapend: laatste aankoop lang geleden, weinig en klein",
                        "Hibernating: last purchase long ago, few and small purchases"),
        "Lost": ("Verloren: het langst geleden, het minst vaak en het minst", "Lost: longest ago, least often and least spend"),
    },
}


def codes(datasets: list[Dataset], policy: Policy) -> dict[str, dict[str, dict[str, str]]]:
    """Per column of ``datasets``, what each code in the subject's rows means, per language: for
    the pages, and in ``metadata.json`` beside the codes that json/ and csv/ keep (Art. 12(1), 20)."""
    known = {**VALUES, "lead_source": texts.LEAD_SOURCES,
             "purpose": {name: (plain["nl"], plain["en"]) for name, plain in policy.consent_plain.items()
                         if plain.get("nl") and plain.get("en")}}
    out: dict[str, dict[str, dict[str, str]]] = {}
    for d in datasets:
        for column in set(d.columns) & set(known):
            for row in d.rows:
                if not isinstance(code := row.get(column), str):
                    continue
                if said := texts.lead_source(code) if column == "lead_source" else known[column].get(code):
                    out.setdefault(column, {})[code] = texts.both(said)
    return out
