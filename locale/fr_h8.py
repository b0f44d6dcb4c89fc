"""French for message planning, stopping and re-planning (h8)."""

FR = {
    # patients/messages.py: CancelReason, why a pending message never left (outbox)
    "Questionnaire completed": "Questionnaire rempli",
    "Questionnaire window closed": "Période de réponse terminée",
    "Email address undeliverable": "Adresse e-mail non distribuable",
    "Patient opted out of SMS": "Le patient a refusé les SMS",
    # surveys/replan.py: Change.label in the preview of a schedule edit
    "New assignment": "Nouveau questionnaire attendu",
    "Moved": "Déplacé",
}
