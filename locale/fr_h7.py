"""French for the SMS template check (patients/messaging_text.py), issue 5 channel layer.

Message bodies themselves are per-language template files (templates/messages/fr/), not gettext:
an SMS must fit 160 GSM-7 characters in each language, checked on the exact text.
"""

FR = {
    "The template does not compile: %(error)s": "Le modèle ne se compile pas : %(error)s",
    "An SMS may only use {{ sender }}, {{ link }} and {{ withdraw_link }}, not %(names)s: a phone may be shared, "
    "so an SMS never names the study or the questionnaire.":
        "Un SMS ne peut utiliser que {{ sender }}, {{ link }} et {{ withdraw_link }}, pas %(names)s : un téléphone "
        "peut être partagé, un SMS ne nomme donc jamais l'étude ni le questionnaire.",
    "The SMS must contain the questionnaire link {{ link }}.":
        "Le SMS doit contenir le lien du questionnaire {{ link }}.",
    "The SMS must contain the withdrawal link {{ withdraw_link }}.":
        "Le SMS doit contenir le lien de retrait {{ withdraw_link }}.",
    "%(chars)s cannot be sent in GSM-7: the whole SMS switches to Unicode, 70 characters per SMS instead of 160.":
        "%(chars)s ne passe pas en GSM-7 : tout le SMS passe en Unicode, 70 caractères par SMS au lieu de 160.",
    "With the longest link this SMS is %(units)s characters: %(segments)s SMS instead of one (one holds %(single)s).":
        "Avec le lien le plus long, ce SMS fait %(units)s caractères : %(segments)s SMS au lieu d'un seul "
        "(un SMS en contient %(single)s).",
}
