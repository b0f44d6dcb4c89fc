"""French for the enrolment core, pseudonym and consent models (issue 4 foundation)."""

FR = {
    "The name is missing.": "Le nom manque.",
    "%(value)s is not an email address.": "%(value)s n'est pas une adresse e-mail.",
    "%(value)s is not a date of birth (use DD/MM/YYYY).": "%(value)s n'est pas une date de naissance (format JJ/MM/AAAA).",
    "This study asks patients their year of birth on their link: give the date of birth.": "Cette étude demande l'année de naissance à l'ouverture du lien : indiquez la date de naissance.",
    "Unknown language %(value)s (this study uses %(known)s).": "Langue %(value)s inconnue (cette étude utilise %(known)s).",
    "Unknown time zone %(value)s (e.g. Europe/Paris).": "Fuseau horaire %(value)s inconnu (par ex. Europe/Paris).",
    "Unknown channel %(value)s (sms or email).": "Canal %(value)s inconnu (sms ou email).",
    "Unknown site %(value)s.": "Site %(value)s inconnu.",
    "Unknown consent %(value)s.": "Consentement %(value)s inconnu.",
    "This study's legal basis is consent: non-opposition is not enough.": "La base légale de cette étude est le consentement : la non-opposition ne suffit pas.",
    "Consent is missing, and the study has no information notice to sign online.": "Le consentement manque, et l'étude n'a pas de note d'information à signer en ligne.",
    "This study derives pseudonyms from an identifier: it is missing.": "Cette étude dérive les pseudonymes d'un identifiant : il manque.",
    "This person is already enrolled in this study.": "Cette personne est déjà incluse dans cette étude.",
    "Another patient of this study has this phone number.": "Un autre patient de cette étude a ce numéro de téléphone.",
    "Another patient of this study has this email address.": "Un autre patient de cette étude a cette adresse e-mail.",
    "%(value)s is not a phone number.": "%(value)s n'est pas un numéro de téléphone.",
    "%(value)s is not a valid phone number.": "%(value)s n'est pas un numéro de téléphone valide.",
    "date of birth (YYYY-MM-DD)": "date de naissance (AAAA-MM-JJ)",
    "Pending: the patient will consent from their link": "En attente : le patient consentira depuis son lien",
    "Patient, from a link": "Le patient, depuis un lien",
    "Keep the data already collected": "Conserver les données déjà recueillies",
    "Delete the data already collected": "Supprimer les données déjà recueillies",
    "withdrawn by": "retiré par", "data at withdrawal": "données au retrait",
    "name typed by the patient": "nom saisi par le patient", "recorded at": "enregistré le",
    "record hash (SHA-256)": "empreinte de l'enregistrement (SHA-256)",
    "consent record": "preuve de consentement", "consent records": "preuves de consentement",
    "reason": "motif", "at": "le", "re-identification": "ré-identification", "re-identifications": "ré-identifications",
    "e.g. 1.0 or 2026-11-01": "par ex. 1.0 ou 2026-11-01",
    "information notice": "note d'information", "information notices": "notes d'information",
    "Inclusion: must hold": "Inclusion : doit être vraie", "Exclusion: must not hold": "Exclusion : ne doit pas être vraie",
    "item (code)": "item (code)", "eligibility rule": "règle d'éligibilité", "eligibility rules": "règles d'éligibilité",
    "Random": "Aléatoires",
    "Derived from an external identifier (HMAC-SHA-256, study key)": "Dérivés d'un identifiant externe (HMAC-SHA-256, clé de l'étude)",
    "2 to 6 capital letters or digits, e.g. ST01.": "2 à 6 majuscules ou chiffres, par ex. ST01.",
    "pseudonym prefix": "préfixe des pseudonymes", "pseudonyms": "pseudonymes",
    "Derived pseudonyms let the study link to a health-data warehouse; the identifier itself is never stored and the key lives outside the database (PSEUDONYM_KEYS).": "Les pseudonymes dérivés permettent de chaîner l'étude à un entrepôt de données de santé ; l'identifiant n'est jamais stocké et la clé reste hors de la base (PSEUDONYM_KEYS).",
    "legal basis": "base légale", "Consent": "Consentement",
    "Non-opposition (French reference methodology)": "Non-opposition (méthodologie de référence)",
    "consent before questionnaires": "consentement avant les questionnaires",
    "No questionnaire opens before consent (or non-opposition) is recorded.": "Aucun questionnaire ne s'ouvre avant que le consentement (ou la non-opposition) soit enregistré.",
    "eligibility questionnaire": "questionnaire d'éligibilité", "only this site": "uniquement ce site",
}

FR.update({
    "SMS opt-out": "désinscription SMS", "email undeliverable": "e-mail non distribuable",
    "send messages from": "envoyer les messages à partir de", "send messages until": "envoyer les messages jusqu'à",
    "send on Sundays": "envoyer le dimanche", "delivered at": "remis le",
})

FR.update({
    "We cannot register these details. If you already take part, use the link in your messages; otherwise ask the practice.": "Nous ne pouvons pas enregistrer ces coordonnées. Si vous participez déjà, utilisez le lien de vos messages ; sinon, adressez-vous au cabinet.",
})

FR.update({"Stop taking part in the study": "Arrêter de participer à l'étude"})

FR.update({
    "SMS template": "modèle de SMS", "SMS templates": "modèles de SMS",
    "Use {{ sender }}, {{ link }} and {{ withdraw_link }}; nothing that names the study.": "Utilisez {{ sender }}, {{ link }} et {{ withdraw_link }} ; rien qui nomme l'étude.",
    "An SMS template holds text and {{ variables }} only, no {% tags %}.": "Un modèle de SMS contient du texte et des {{ variables }} seulement, pas de {% balises %}.",
    "length with the longest link": "longueur avec le lien le plus long",
    "%(units)s characters (%(encoding)s), %(segments)s SMS": "%(units)s caractères (%(encoding)s), %(segments)s SMS",
})

FR.update({"When": "Quand", "Only after an answer (logic trigger)": "Seulement après une réponse (déclencheur)"})
