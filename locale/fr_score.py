"""French for scoring rules, their checks, recomputation and the scores shown on responses (score)."""

FR = {
    # surveys/scoring.py: where a problem is
    "scores and alerts": "scores et alertes",
    "score %(name)s": "score %(name)s",
    "score no. %(number)s": "score n° %(number)s",
    "band %(code)s": "tranche %(code)s",
    "band no. %(number)s": "tranche n° %(number)s",
    # surveys/scoring.py: problems of the rules
    "the rules are not valid JSON: %(error)s": "les règles ne sont pas du JSON valide : %(error)s",
    'the rules must be a JSON object, such as {"scores": [...], "alerts": [...]}':
        'les règles doivent être un objet JSON, par exemple {"scores": [...], "alerts": [...]}',
    'unknown key "%(key)s" (expected "scores" and "alerts")':
        'clé inconnue « %(key)s » (attendues : « scores » et « alerts »)',
    '"scores" must be a list of score rules': "« scores » doit être une liste de règles de score",
    "each score rule must be a JSON object": "chaque règle de score doit être un objet JSON",
    'unknown key "%(key)s"': "clé inconnue « %(key)s »",
    'has no "name"': "n'a pas de « name »",
    'name "%(name)s" is not valid: use a letter, then letters, digits or _ (34 characters at most)':
        "le nom « %(name)s » n'est pas valide : une lettre, puis des lettres, chiffres ou _ (34 caractères au plus)",
    'name "%(name)s" is already used by score no. %(number)s':
        "le nom « %(name)s » est déjà pris par le score n° %(number)s",
    "label is missing in %(lang)s": "le libellé manque en %(lang)s",
    '"items" must be a list of item codes': "« items » doit être une liste de codes de questions",
    "item %(code)s is listed more than once": "la question %(code)s est citée plusieurs fois",
    "item %(code)s does not exist": "la question %(code)s n'existe pas",
    "item %(code)s is not a question": "l'élément %(code)s n'est pas une question",
    "item %(code)s cannot be scored: only choices, yes/no and numbers have a value":
        "la question %(code)s ne peut pas être scorée : seuls les choix, oui/non et nombres ont une valeur",
    "item %(code)s has no option scores: give its answer options a score":
        "la question %(code)s n'a pas de scores d'options : donnez un score à ses réponses",
    '"scores" must be a list of names of earlier scores': "« scores » doit être une liste de noms de scores précédents",
    "uses itself as an input score": "s'utilise lui-même comme score d'entrée",
    "uses score %(other)s, which does not exist": "utilise le score %(other)s, qui n'existe pas",
    "uses score %(other)s, which comes after it (list it first)":
        "utilise le score %(other)s, qui vient après lui (placez-le avant)",
    "score %(other)s is listed more than once": "le score %(other)s est cité plusieurs fois",
    'has nothing to score: list "items" or earlier "scores"':
        "n'a rien à scorer : indiquez des « items » ou des « scores » précédents",
    '"method" must be "sum" or "mean"': "« method » doit valoir « sum » ou « mean »",
    '"reverse" must be a list of item codes': "« reverse » doit être une liste de codes de questions",
    "item %(code)s is reversed but is not among its items":
        "la question %(code)s est inversée mais ne fait pas partie de ses questions",
    "item %(code)s is a multiple choice, which cannot be reversed":
        "la question %(code)s est à choix multiple et ne peut pas être inversée",
    "item %(code)s cannot be reversed: give it a minimum and a maximum":
        "la question %(code)s ne peut pas être inversée : donnez-lui un minimum et un maximum",
    '"missing" must be "prorate" or "none"': "« missing » doit valoir « prorate » ou « none »",
    '"min_answered" must be a whole number from 1 to %(of)s (the number of its inputs)':
        "« min_answered » doit être un nombre entier de 1 à %(of)s (le nombre de ses entrées)",
    '"min_answered" is %(least)s of %(of)s but "missing" is "none", which needs every answer: '
    'set "missing" to "prorate" or remove "min_answered"':
        "« min_answered » vaut %(least)s sur %(of)s mais « missing » vaut « none », qui exige toutes les réponses : "
        "mettez « missing » à « prorate » ou retirez « min_answered »",
    '"lookup" must be a non-empty list of [raw score, value] pairs of numbers':
        "« lookup » doit être une liste non vide de paires de nombres [score brut, valeur]",
    "lookup: raw score %(raw)s appears more than once": "lookup : le score brut %(raw)s apparaît plusieurs fois",
    '"transform" must be an object with numbers "multiply" and/or "add"':
        "« transform » doit être un objet avec des nombres « multiply » et/ou « add »",
    '"round" must be a whole number of decimal places from 0 to %(max)s':
        "« round » doit être un nombre entier de décimales de 0 à %(max)s",
    '"bands" must be a list of {"code", "min", "max", "label"} objects':
        '« bands » doit être une liste d\'objets {"code", "min", "max", "label"}',
    'band no. %(number)s must be a {"code", "min", "max", "label"} object':
        'la tranche n° %(number)s doit être un objet {"code", "min", "max", "label"}',
    'needs a "code" of letters, digits or _': "il faut un « code » fait de lettres, chiffres ou _",
    "code is used by more than one band": "ce code est pris par plusieurs tranches",
    '"min" and "max" must be numbers': "« min » et « max » doivent être des nombres",
    "min (%(low)s) is above max (%(high)s)": "min (%(low)s) est supérieur à max (%(high)s)",
    "bands %(a)s and %(b)s overlap (bounds are inclusive)":
        "les tranches %(a)s et %(b)s se chevauchent (bornes incluses)",
    # surveys/scoring.py: stored scores in words, recomputation
    "too few answers": "trop peu de réponses",
    "raw score not in the lookup table": "score brut absent de la table de conversion",
    "a score it combines is missing": "un des scores qu'il combine manque",
    "the rule could not be applied": "la règle n'a pas pu être appliquée",
    "prorated": "extrapolé au prorata",
    "scores recomputed": "scores recalculés",
    "scores recomputed: %(reason)s": "scores recalculés : %(reason)s",
    # surveys/admin_forms.py
    "Scoring and alert rules (JSON), checked against the draft's items as saved: save new items before naming "
    "them in a rule. See docs/scoring.md for the format.":
        "Règles de score et d'alerte (JSON), vérifiées d'après les questions enregistrées du brouillon : "
        "enregistrez les nouvelles questions avant de les citer dans une règle. Format : docs/scoring.md.",
    "The rules are not valid JSON: %(error)s at line %(line)s, column %(column)s.":
        "Les règles ne sont pas du JSON valide : %(error)s à la ligne %(line)s, colonne %(column)s.",
    # surveys/admin.py: versions and responses
    "Recompute scores": "Recalculer les scores",
    "score recomputations": "recalculs de scores",
    "%(version)s: scores of %(responses)s completed response(s) recomputed, %(changed)s changed.":
        "%(version)s : scores de %(responses)s réponse(s) terminée(s) recalculés, %(changed)s modifié(s).",
    "changed / recomputed": "modifiées / recalculées",
    "%(version)s: you may not recompute its scores.": "%(version)s : vous ne pouvez pas en recalculer les scores.",
    "admin action": "action de l'administration",
    "score": "score",
    "value": "valeur",
    "raw": "brut",
    "band": "tranche",
    "answered": "répondu",
    "note": "remarque",
}
