"""Word lists for the demo generator: common Dutch names, streets, cities and companies.

Only name parts live here; the generator combines them at run time, so no committed file holds
a complete person.
"""

FIRST_NAMES_F = (
    "Emma Julia Mila Tess Sophie Zoë Sara Nora Yara Eva Liv Lotte Saar Anna Noor Lynn Fenna "
    "Lieke Fleur Isa Sanne Femke Marieke Ingrid Anouk Esther Karin Monique Petra Wilma Annelies "
    "Margriet Johanna Maria Willemijn Hanna Roos Evi Elin"
).split()
FIRST_NAMES_M = (
    "Noah Sem Liam Lucas Daan Finn Levi Luuk Milan Jesse Bram Thijs Sven Ruben Lars Tim Jeroen "
    "Pieter Johan Kees Willem Hendrik Jan Gerrit Bas Dennis Mark Erik Marco Rob Sander Wouter "
    "Maarten Joost Stijn Niels Koen Tom Gijs"
).split()
LAST_NAMES = (
    "de Jong|Jansen|de Vries|van den Berg|van Dijk|Bakker|Janssen|Visser|Smit|Meijer|de Boer|"
    "Mulder|de Groot|Bos|Vos|Peters|Hendriks|van Leeuwen|Dekker|Brouwer|de Wit|Dijkstra|Smits|"
    "de Graaf|van der Meer|van der Linden|Kok|Jacobs|de Haan|Vermeulen|van den Heuvel|"
    "van der Veen|van den Broek|de Bruijn|de Bruin|van der Heijden|Schouten|van Beek|Willems|"
    "van Vliet|van de Ven|Hoekstra|Maas|Verhoeven|Koster|van Dam|van der Wal|Prins|Blom|Huisman|"
    "Peeters|de Lange|Kuipers|van Wijk|Post|Kuiper|Veenstra|Kramer|van den Brink|Scholten|"
    "van Wijngaarden|Bosman|Timmermans|Groen|Gerritsen|Jonker|van Loon|Boer|van der Velden"
).split("|")
STREETS = (
    "Kerkstraat|Schoolstraat|Molenweg|Dorpsstraat|Stationsweg|Julianastraat|Beatrixstraat|"
    "Wilhelminastraat|Nieuwstraat|Kastanjelaan|Eikenlaan|Lindelaan|Parkweg|Marktplein|Havenstraat|"
    "Prinsengracht|Vondelstraat|Zeeweg|Rijksstraatweg|Spoorlaan|Industrieweg|Burgemeester de Withstraat"
).split("|")
CITIES = (
    ("Amsterdam", 1011, 1109), ("Rotterdam", 3011, 3089), ("Den Haag", 2491, 2597),
    ("Utrecht", 3511, 3585), ("Eindhoven", 5611, 5658), ("Groningen", 9711, 9747),
    ("Tilburg", 5011, 5049), ("Almere", 1311, 1359), ("Breda", 4811, 4839),
    ("Nijmegen", 6511, 6546), ("Apeldoorn", 7311, 7339), ("Haarlem", 2011, 2037),
    ("Arnhem", 6811, 6846), ("Enschede", 7511, 7548), ("Zwolle", 8011, 8043),
    ("Leiden", 2311, 2334), ("Maastricht", 6211, 6229), ("Delft", 2611, 2629),
)
# Reserved for examples (RFC 2606): a generated address can never be a real person's mailbox.
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
COMPANIES = (
    "Bouwbedrijf Noord|Installatietechniek West|Bakkerij Centrum|Transport & Logistiek Oost|"
    "Adviesbureau Zuid|Tandartspraktijk De Linde|Garage Van Dam|Hoveniersbedrijf Groen|"
    "IT Diensten Delta|Schildersbedrijf Kleur|Kapsalon Knip|Accountantskantoor Balans"
).split("|")
PRODUCT_CATEGORIES = ("office", "furniture", "software", "hardware", "service", "training", "supplies")
