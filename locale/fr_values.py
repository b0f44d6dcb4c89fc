"""French for answer values and display conditions: time items, condition checks, the preview's apply button."""

FR = {
    # surveys/models/questionnaire.py
    "Time of day": "Heure",
    # surveys/questionnaires/values.py
    "Enter a time as hours:minutes, for example 14:30.": "Indiquez une heure sous la forme heures:minutes, par exemple 14:30.",
    # templates/patient/field.html, page.html
    "For example 14:30": "Par exemple 14:30",
    "Apply the answers": "Appliquer les réponses",
    # surveys/validation.py, surveys/alerts.py
    "its display condition compares %(code)s with %(answer)s, which is not a date (YYYY-MM-DD, YYYY-MM or YYYY)":
        "sa condition d'affichage compare %(code)s avec %(answer)s, qui n'est pas une date "
        "(AAAA-MM-JJ, AAAA-MM ou AAAA)",
    "its display condition compares %(code)s with %(answer)s, which is not a time (HH:MM)":
        "sa condition d'affichage compare %(code)s avec %(answer)s, qui n'est pas une heure (HH:MM)",
    "item %(code)s is a time: compare it with a time written HH:MM, not %(value)s":
        "l'item %(code)s est une heure : comparez-le à une heure écrite HH:MM, pas à %(value)s",
    # surveys/fhir_io.py
    "a time (valueTime, hh:mm:ss) is expected": "une heure (valueTime, hh:mm:ss) est attendue",
    "%(element)s: %(value)s is not true or false (FHIR JSON writes a boolean, without quotes)":
        "%(element)s : %(value)s n'est ni true ni false (le JSON FHIR écrit un booléen, sans guillemets)",
}
