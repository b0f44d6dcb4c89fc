"""French for alerts: publish checks of the rules, e-mail to investigators, alert page, safety message."""

FR = {
    # surveys/alerts.py: publish checks
    '"when" must be a test or {"any": [...]} / {"all": [...]}':
        '« when » doit être un test ou {"any": [...]} / {"all": [...]}',
    '"%(key)s" must be alone in its object': "« %(key)s » doit être seul dans son objet",
    '"%(key)s" needs a non-empty list of tests': "« %(key)s » demande une liste de tests non vide",
    'a test names either an "answer" (item code) or a "score" (score name), not both or neither':
        "un test nomme soit une réponse « answer » (code d'item), soit un score « score » (nom du score), "
        "ni les deux ni aucun",
    "a test has unknown keys: %(keys)s": "un test a des clés inconnues : %(keys)s",
    "operator %(op)s is unknown (use one of %(ops)s)": "l'opérateur %(op)s est inconnu (utilisez l'un de %(ops)s)",
    '"exists" takes true or false, not %(value)s': "« exists » prend true ou false, pas %(value)s",
    "operator %(op)s needs a value": "l'opérateur %(op)s demande une valeur",
    "tests score %(name)s, which does not exist": "teste le score %(name)s, qui n'existe pas",
    "score %(name)s: a band code is compared with = or != only, not %(op)s":
        "score %(name)s : un code de classe se compare avec = ou != seulement, pas %(op)s",
    "score %(name)s has no band %(band)s": "le score %(name)s n'a pas de classe %(band)s",
    "score %(name)s is compared with %(value)s, which is not a number":
        "le score %(name)s est comparé à %(value)s, qui n'est pas un nombre",
    "tests item %(code)s, which does not exist": "teste l'item %(code)s, qui n'existe pas",
    "tests item %(code)s, which is not a question": "teste l'item %(code)s, qui n'est pas une question",
    "item %(code)s: an option code is compared with = or != only, not %(op)s "
    "(compare a number to test the option score)":
        "item %(code)s : un code d'option se compare avec = ou != seulement, pas %(op)s "
        "(comparez un nombre pour tester le score de l'option)",
    "item %(code)s does not offer option %(option)s": "l'item %(code)s ne propose pas l'option %(option)s",
    "item %(code)s is compared with the number %(value)s, but its options have no score":
        "l'item %(code)s est comparé au nombre %(value)s, mais ses options n'ont pas de score",
    "item %(code)s is compared with %(value)s: give an option code (text) or a score (number)":
        "l'item %(code)s est comparé à %(value)s : donnez un code d'option (texte) ou un score (nombre)",
    "item %(code)s is a yes/no question: test it with = or != and true or false":
        "l'item %(code)s est une question oui/non : testez-le avec = ou != et true ou false",
    "item %(code)s is a number, but is compared with %(value)s":
        "l'item %(code)s est un nombre, mais il est comparé à %(value)s",
    "item %(code)s is a date: compare it with a date written YYYY-MM-DD, not %(value)s":
        "l'item %(code)s est une date : comparez-le à une date écrite AAAA-MM-JJ, pas %(value)s",
    "item %(code)s is a text: operator %(op)s cannot compare it (use =, != or exists)":
        "l'item %(code)s est un texte : l'opérateur %(op)s ne peut pas le comparer (utilisez =, != ou exists)",
    "item %(code)s is a text, but is compared with %(value)s":
        "l'item %(code)s est un texte, mais il est comparé à %(value)s",
    "alerts": "alertes",
    '"alerts" must be a list of rules': "« alerts » doit être une liste de règles",
    "alert %(code)s": "alerte %(code)s",
    "alert #%(n)s": "alerte n° %(n)s",
    "a rule must be an object with code, label and when": "une règle doit être un objet avec code, label et when",
    "needs a code of 1 to 40 letters, digits or _": "demande un code de 1 à 40 lettres, chiffres ou _",
    "code %(code)s is used by more than one alert (codes must be unique)":
        "le code %(code)s est utilisé par plusieurs alertes (les codes doivent être uniques)",
    "unknown keys: %(keys)s": "clés inconnues : %(keys)s",
    'needs a label per language, e.g. {"fr": "...", "en": "..."}':
        'demande un libellé par langue, par ex. {"fr": "...", "en": "..."}',
    "label is missing in %(lang)s": "le libellé manque en %(lang)s",
    '"safety_message" must be true or false': "« safety_message » doit valoir true ou false",
    "shows the safety message, but the questionnaire has none in %(lang)s":
        "affiche le message de sécurité, mais le questionnaire n'en a pas en %(lang)s",
    # surveys/alert_views.py, templates/staff/alerts*.html
    "Alerts of %(study)s": "Alertes de %(study)s",
    "Alert %(rule)s of %(pseudonym)s acknowledged.": "Alerte %(rule)s de %(pseudonym)s prise en compte.",
    "Alert %(rule)s of %(pseudonym)s was already acknowledged by %(user)s.":
        "L'alerte %(rule)s de %(pseudonym)s avait déjà été prise en compte par %(user)s.",
    "Alerts": "Alertes",
    "An alert says that a completed questionnaire met one of its alert rules. Investigators receive each one by "
    "e-mail, without the answers. Participants are shown by pseudonym only; times are in the study's time zone "
    "(%(tz)s).":
        "Une alerte signale qu'un questionnaire rempli a déclenché l'une de ses règles d'alerte. Les investigateurs "
        "reçoivent chacune par e-mail, sans les réponses. Les participants sont désignés par leur pseudonyme "
        "seulement ; les heures sont dans le fuseau horaire de l'étude (%(tz)s).",
    "the latest ones are listed": "les plus récentes sont listées",
    "No open alert.": "Aucune alerte en cours.",
    "Acknowledged alerts, latest first": "Alertes prises en compte, les plus récentes d'abord",
    "No acknowledged alert yet.": "Aucune alerte prise en compte pour l'instant.",
    "Pages of acknowledged alerts": "Pages des alertes prises en compte",
    "Alert": "Alerte",
    "Questionnaire": "Questionnaire",
    "Raised at": "Déclenchée le",
    "E-mailed at": "Envoyée par e-mail le",
    "Acknowledged": "Prise en compte",
    "Response": "Réponse",
    "Acknowledge": "Prendre en compte",
    "%(at)s by %(user)s": "%(at)s par %(user)s",
    "Open the response": "Ouvrir la réponse",
    # surveys/admin_alerts.py
    "state": "état",
    "Open": "En cours",
    "pseudonym": "pseudonyme",
    "open alerts": "alertes en cours",
    # templates/messages/alerts/
    "Alert in study %(code)s (%(title)s)": "Alerte dans l'étude %(code)s (%(title)s)",
    'Participant %(pseudonym)s completed the questionnaire "%(questionnaire)s", which fired:':
        "Le participant %(pseudonym)s a rempli le questionnaire « %(questionnaire)s », qui a déclenché :",
    "Raised at %(raised_at)s (%(time_zone)s).": "Déclenchée le %(raised_at)s (%(time_zone)s).",
    "This message holds no answer and no score. See the alert, and acknowledge it, on the study's alert page "
    "(sign-in required):":
        "Ce message ne contient aucune réponse ni aucun score. Consultez l'alerte, et prenez-la en compte, sur la "
        "page des alertes de l'étude (connexion requise) :",
    # templates/patient/state.html
    "If you need help now": "Si vous avez besoin d'aide maintenant",
}

FR_PLURAL = {
    "Open alert (%(n)s)": ["Alerte en cours (%(n)s)", "Alertes en cours (%(n)s)"],
    "%(count)s open alert": ["%(count)s alerte en cours", "%(count)s alertes en cours"],
}
