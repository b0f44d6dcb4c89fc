"""French for research exports (exp): formats, date modes, column labels, codebook, permission field."""

FR = {
    # surveys/exports/spec.py
    "Long, CSV (one row per answer)": "Long, CSV (une ligne par réponse à une question)",
    "Wide, CSV (one row per participant and timepoint)": "Large, CSV (une ligne par participant et temps de mesure)",
    "Long, Excel (one row per answer)": "Long, Excel (une ligne par réponse à une question)",
    "Wide, Excel (one row per participant and timepoint)": "Large, Excel (une ligne par participant et temps de mesure)",
    "SPSS .sav (wide, with variable and value labels)": "SPSS .sav (large, avec étiquettes de variables et de valeurs)",
    "Stata .dta (wide, with variable and value labels)": "Stata .dta (large, avec étiquettes de variables et de valeurs)",
    "Codebook, CSV": "Dictionnaire des variables, CSV",
    "Codebook, HTML": "Dictionnaire des variables, HTML",
    "FHIR QuestionnaireResponse, NDJSON (one response per line)":
        "FHIR QuestionnaireResponse, NDJSON (une réponse par ligne)",
    "Exact dates and times": "Dates et heures exactes",
    "Shifted by a secret offset per participant (intervals kept)":
        "Décalées d'un nombre de jours secret propre à chaque participant (intervalles conservés)",
    "Days since enrolment": "Jours depuis l'inclusion",
    "Unknown format %(value)s; choose one of %(known)s.": "Format %(value)s inconnu ; choisissez parmi %(known)s.",
    "Unknown date mode %(value)s; choose one of %(known)s.":
        "Traitement des dates %(value)s inconnu ; choisissez parmi %(known)s.",
    "FHIR responses carry dates: choose exact or shifted dates for this format.":
        "Les réponses FHIR portent des dates : choisissez des dates exactes ou décalées pour ce format.",
    "Unknown language %(value)s; choose one of %(known)s.": "Langue %(value)s inconnue ; choisissez parmi %(known)s.",
    "Unknown field.": "Champ inconnu.",
    "This field is required.": "Ce champ est obligatoire.",
    # surveys/exports/catalogue.py
    "No published questionnaire %(codes)s in this study.": "Aucun questionnaire publié %(codes)s dans cette étude.",
    # surveys/exports/writers.py
    "This study has no published questionnaire to export.": "Cette étude n'a aucun questionnaire publié à exporter.",
    # surveys/exports/tables.py: labels of the metadata columns (codebook, .sav/.dta)
    "Participant pseudonym": "Pseudonyme du participant",
    "Site code": "Code du site",
    "Questionnaire code": "Code du questionnaire",
    "Questionnaire version answered": "Version du questionnaire remplie",
    "Timepoint code": "Code du temps de mesure",
    "Occurrence of a repeating timepoint (1 otherwise)": "Occurrence d'un temps de mesure répété (1 sinon)",
    "Day the questionnaire opened, counted from enrolment": "Jour d'ouverture du questionnaire, compté depuis l'inclusion",
    "Date and time the questionnaire opened": "Date et heure d'ouverture du questionnaire",
    "Day of submission, counted from enrolment": "Jour d'envoi des réponses, compté depuis l'inclusion",
    "Date and time of submission": "Date et heure d'envoi des réponses",
    "Hours from opening to submission": "Heures entre l'ouverture et l'envoi des réponses",
    "Channel of the first message sent for this questionnaire (sms, email)":
        "Canal du premier message envoyé pour ce questionnaire (sms, email)",
    "Response status (completed, in_progress)": "Statut de la réponse (completed = terminée, in_progress = en cours)",
    "other (text)": "autre (texte)",
    "band": "tranche",
    # surveys/exports/codebook.py
    "text": "texte",
    "integer": "nombre entier",
    "decimal number": "nombre décimal",
    "date and time (ISO 8601, study time zone)": "date et heure (ISO 8601, fuseau horaire de l'étude)",
    "date (YYYY-MM-DD)": "date (AAAA-MM-JJ)",
    "days since enrolment": "jours depuis l'inclusion",
    "code (one of the options)": "code (une des modalités)",
    "yes/no (1 = yes, 0 = no)": "oui/non (1 = oui, 0 = non)",
    "0/1 (1 = chosen; empty = not asked or not answered)": "0/1 (1 = choisi ; vide = non posée ou sans réponse)",
    "Codebook": "Dictionnaire des variables",
    "Variable": "Variable",
    "Kind": "Nature",
    "Type": "Type",
    "Label (%(language)s)": "Libellé (%(language)s)",
    "Options: code [number in .sav/.dta] = labels": "Modalités : code [nombre dans .sav/.dta] = libellés",
    "Versions": "Versions",
    "Rule": "Règle",
    "SPSS / Stata name": "Nom SPSS / Stata",
    # surveys/models: export permission and invitation channel
    "investigators may export": "les investigateurs peuvent exporter",
    "Data managers can always export the study's data, by pseudonym; tick to let investigators too.":
        "Les data managers peuvent toujours exporter les données de l'étude, par pseudonyme ; cochez pour "
        "l'autoriser aussi aux investigateurs.",
    "invited by": "invité par",
}
