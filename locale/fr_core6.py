"""French for the shared core of scores, alerts and imports (models, admin fieldsets)."""

FR = {
    "Scores and alerts": "Scores et alertes",
    'needs "when": the test that fires it': "il faut « when » : le test qui la déclenche",
    "rule": "règle",
    "investigators notified at": "investigateurs prévenus le",
    "alert": "alerte",
    "responses whose scores changed": "réponses dont les scores ont changé",
    "score recomputation": "recalcul des scores",
    "Scoring and alert rules (JSON). See docs/scoring.md for the format.":
        "Règles de score et d'alerte (JSON). Format : voir docs/scoring.md.",
    "Shown at the end of the questionnaire when an alert asks for it, e.g. helpline numbers.":
        "Affiché à la fin du questionnaire quand une alerte le demande, par exemple des numéros d'aide.",
    "imported definition": "définition importée",
    "Study": "Étude",
    "FHIR QuestionnaireResponses (NDJSON or a Bundle in JSON)": "QuestionnaireResponse FHIR (NDJSON ou Bundle JSON)",
    "line %(line)s, column %(col)s": "ligne %(line)s, colonne %(col)s",
    "FHIR R4 Questionnaire (JSON)": "Questionnaire FHIR R4 (JSON)",
    "no questionnaire found": "aucun questionnaire trouvé",
    "raised at": "déclenchée le",
    "acknowledged at": "prise en compte le",
    "responses recomputed": "réponses recalculées",
    "Use letters, digits or _, optionally after a minus sign (40 characters at most).":
        "Utilisez des lettres, des chiffres ou _, éventuellement après un signe moins (40 caractères au plus).",
    "safety message (French)": "message de sécurité (français)",
    "safety message (English)": "message de sécurité (anglais)",
    "imported from": "importé depuis",
    "The file": "Le fichier",
}
