"""French for access rules: alert e-mails and traces, response sources and imports, corrections, locked links."""

FR = {
    # surveys/alerts.py, surveys/alert_views.py, templates/staff/alerts_row.html
    "Ressenti: an alert needs your attention — study %(code)s":
        "Ressenti\u202f: une alerte demande votre attention — étude %(code)s",
    "(response erased at the patient's request)": "(réponse effacée à la demande du patient)",
    "response erased at the patient's request": "réponse effacée à la demande du patient",
    # surveys/fhir_io.py
    "%(pseudonym)s, occurrence %(n)s: the assignment is %(status)s; nothing is imported into it":
        "%(pseudonym)s, occurrence %(n)s\u202f: le questionnaire attribué est %(status)s\u202f; rien n'y est importé",
    "%(pseudonym)s, occurrence %(n)s: the assignment is %(status)s, already answered":
        "%(pseudonym)s, occurrence %(n)s\u202f: le questionnaire attribué est %(status)s, déjà rempli",
    "%(pseudonym)s, occurrence %(n)s: the assignment is %(status)s and its window still open; "
    "the participant answers it, an import may not":
        "%(pseudonym)s, occurrence %(n)s\u202f: le questionnaire attribué est %(status)s et sa période de réponse "
        "est encore ouverte\u202f; c'est au participant d'y répondre, pas à un import",
    # surveys/models/participant.py
    "Answered by the patient": "Rempli par le patient",
    "Imported": "Importé",
    "Corrected after submission": "Corrigé après envoi",
    "question": "question",
    "old value": "ancienne valeur",
    "new value": "nouvelle valeur",
    "answer correction": "correction de réponse",
    "answer corrections": "corrections de réponses",
    "locked at": "verrouillé le",
    "locked until": "verrouillé jusqu'au",
    "lock number": "numéro du verrouillage",
    "locked link": "lien verrouillé",
    "locked links": "liens verrouillés",
}
