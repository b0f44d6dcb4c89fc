"""French for corrections of submitted answers (page, service) and the source column of exports."""

FR = {
    # surveys/corrections.py
    "Give the reason for the correction (for example the patient's call and its date).":
        "Indiquez le motif de la correction (par exemple l'appel du patient et sa date).",
    "Only a submitted response can be corrected.": "Seule une réponse envoyée peut être corrigée.",
    # surveys/correction_views.py
    "Correct the answers of %(pseudonym)s": "Corriger les réponses de %(pseudonym)s",
    "Nothing changed: the stored answers are already these.":
        "Rien n'a changé\u202f: les réponses enregistrées sont déjà celles-ci.",
    # templates/staff/correct_response.html
    "Correct answers": "Corriger les réponses",
    "Responses": "Réponses",
    # surveys/admin.py
    "corrections": "corrections",
    "Correct an answer at the patient's request": "Corriger une réponse à la demande du patient",
    'Correct an answer of "%(q)s" only when the patient asks for it (by phone, at the practice). The old value, '
    "the new one, your name, the time and the reason are kept; scores and alerts are computed again as at "
    'submission, and the response is marked "corrected" in exports.':
        "Ne corrigez une réponse de «\u00a0%(q)s\u00a0» que lorsque le patient le demande (par téléphone, au "
        "cabinet). L'ancienne valeur, la nouvelle, votre nom, l'heure et le motif sont conservés\u202f; les scores "
        "et les alertes sont recalculés comme à l'envoi, et la réponse est marquée «\u00a0corrigée\u00a0» dans "
        "les exports.",
    "Nothing was changed. Please correct:": "Rien n'a été modifié. Veuillez corriger\u202f:",
    "Reason": "Motif",
    "not asked with the current answers": "non posée avec les réponses actuelles",
    "Reason for the correction": "Motif de la correction",
    "Save the correction": "Enregistrer la correction",
    "Corrections of this response, latest first": "Corrections de cette réponse, les plus récentes d'abord",
    "When": "Quand",
    "Question": "Question",
    "Old value": "Ancienne valeur",
    "New value": "Nouvelle valeur",
    "By": "Par",
    "No correction yet.": "Aucune correction pour l'instant.",
    # surveys/exports/tables.py
    "Source of the answers (patient, imported, corrected)": "Origine des réponses (patient, importé, corrigé)",
}

FR_PLURAL = {
    "%(n)s answer corrected.": ["%(n)s réponse corrigée.", "%(n)s réponses corrigées."],
    "The corrected answers raised %(n)s alert.": [
        "Les réponses corrigées ont déclenché %(n)s alerte.", "Les réponses corrigées ont déclenché %(n)s alertes."],
}
