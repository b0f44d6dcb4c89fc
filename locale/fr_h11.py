"""French for the planning rules of issue 5 (surveys/models/schedule.py: repeats, date anchors, triggers)."""

FR = {
    # Field names and help texts
    "repeat every": "répéter tous les",
    "In the same unit; 0 = does not repeat (e.g. 7 days = weekly).":
        "Dans la même unité ; 0 = pas de répétition (par ex. 7 jours = chaque semaine).",
    "occurrences": "occurrences",
    "How many times in all, 1 to 366 (e.g. 12 for weekly for 12 weeks).":
        "Combien de fois en tout, de 1 à 366 (par ex. 12 pour chaque semaine pendant 12 semaines).",
    "count from": "compter à partir de",
    "a date answer": "une date répondue",
    "date question": "question de date",
    "linkId of a date question of an earlier questionnaire (e.g. surgery_date); "
    "the offset counts from 00:00 of that date in the study's time zone.":
        "linkId d'une question de date d'un questionnaire précédent (par ex. surgery_date) ; le délai compte "
        "à partir de 00:00 à cette date dans le fuseau horaire de l'étude.",
    "planned only when": "prévu seulement si",
    '"answer:<linkId>" or "score:<name>", e.g. answer:pain. The offset then counts from '
    "the submission that meets the condition; it is planned once.":
        "« answer:<linkId> » ou « score:<nom> », par ex. answer:pain. Le délai compte alors à partir de "
        "l'envoi qui remplit la condition ; il n'est prévu qu'une fois.",
    "trigger condition": "condition de déclenchement",
    "trigger value": "valeur de déclenchement",
    # Validation
    "Give between 1 and %(n)s occurrences.": "Indiquez entre 1 et %(n)s occurrences.",
    "Say how often it repeats (e.g. 7 for weekly), or set occurrences to 1.":
        "Indiquez la fréquence de répétition (par ex. 7 pour chaque semaine), ou mettez 1 occurrence.",
    "A repeating timepoint needs 2 occurrences or more (or set 'repeat every' to 0).":
        "Un temps de mesure répété a besoin d'au moins 2 occurrences (ou mettez « répéter tous les » à 0).",
    "The open window (%(window)s) must not be longer than the repeat interval (%(every)s): "
    "two occurrences would be open at once.":
        "La durée d'ouverture (%(window)s) ne doit pas dépasser l'intervalle de répétition (%(every)s) : "
        "deux occurrences seraient ouvertes en même temps.",
    "Give the linkId of the date question to count from.":
        "Indiquez le linkId de la question de date à partir de laquelle compter.",
    "No published questionnaire of this study has a question %(id)s.":
        "Aucun questionnaire publié de cette étude n'a de question %(id)s.",
    "Question %(id)s is not a date question.": "La question %(id)s n'est pas une question de date.",
    "Count either from a date answer or from a trigger, not both: clear one of them.":
        "Comptez soit à partir d'une date répondue, soit à partir d'un déclencheur, pas les deux : effacez l'un "
        "des deux.",
    "A date question is used only when counting from a date answer: choose 'a date answer' or clear it.":
        "Une question de date ne sert que pour compter à partir d'une date répondue : choisissez « une date "
        "répondue » ou effacez-la.",
    'Write "answer:<linkId>" or "score:<name>", e.g. answer:pain.':
        "Écrivez « answer:<linkId> » ou « score:<nom> », par ex. answer:pain.",
    "Choose the condition (e.g. ≥).": "Choisissez la condition (par ex. ≥).",
    "Give the value to compare with (e.g. 7).": "Indiquez la valeur à comparer (par ex. 7).",
    "Give a date as YYYY-MM-DD to compare a date with.": "Indiquez une date au format AAAA-MM-JJ pour comparer une date.",
    "Give a number to compare with (e.g. 7).": "Indiquez un nombre à comparer (par ex. 7).",
}
