"""French for the REST API (surveys/api/, patients/api.py) and the API tokens page."""

FR = {
    # surveys/api/auth.py
    'Write the header as "Authorization: Bearer <token>".': "Écrivez l'en-tête ainsi : « Authorization: Bearer <jeton> ».",
    "Unknown, revoked or expired token.": "Jeton inconnu, révoqué ou expiré.",
    "A personal API token, made at /staff/api/tokens/.": "Un jeton d'API personnel, créé sur /staff/api/tokens/.",
    # surveys/api/base.py, policies.py
    "No timepoint %(code)s in this study.": "Aucun temps de mesure %(code)s dans cette étude.",
    "No questionnaire %(code)s in this study.": "Aucun questionnaire %(code)s dans cette étude.",
    "Give an instant between the years 1900 and 2200.": "Donnez un instant entre les années 1900 et 2200.",
    "No study %(code)s among yours.": "Aucune étude %(code)s parmi les vôtres.",
    "Your role in study %(code)s does not give access to this resource.":
        "Votre rôle dans l'étude %(code)s ne donne pas accès à cette ressource.",
    "Unknown parameter. Known: %(known)s.": "Paramètre inconnu. Paramètres connus : %(known)s.",
    "This resource takes no query parameter.": "Cette ressource ne prend aucun paramètre de requête.",
    "Invalid input: see errors.": "Saisie invalide : voir errors.",
    "Give a whole number from 1 to %(max)s.": "Donnez un nombre entier de 1 à %(max)s.",
    "Invalid cursor: use the next or previous link of a page as it is.":
        "Curseur invalide : utilisez tel quel le lien next ou previous d'une page.",
    "No version %(number)s of questionnaire %(code)s in this study.":
        "Aucune version %(number)s du questionnaire %(code)s dans cette étude.",
    "No API resource at %(path)s. The list of resources is at /api/docs/.":
        "Aucune ressource d'API à %(path)s. La liste des ressources est sur /api/docs/.",
    # surveys/api/exports.py
    "Unknown field.": "Champ inconnu.",
    "No published questionnaire %(code)s in this study.": "Aucun questionnaire publié %(code)s dans cette étude.",
    "Export %(id)s is not finished: poll it until its status is done.":
        "L'export %(id)s n'est pas terminé : interrogez-le jusqu'à ce que son statut soit done.",
    "Export %(id)s failed: see its error, and start a new one.":
        "L'export %(id)s a échoué : voyez son erreur et lancez-en un nouveau.",
    "The file of export %(id)s has expired: start a new export.":
        "Le fichier de l'export %(id)s a expiré : lancez un nouvel export.",
    # surveys/api/tokens.py, staff.py
    'Give the token a label, e.g. "R analysis".': "Donnez un libellé au jeton, par exemple « Analyse R ».",
    "The label is too long (%(max)s characters at most).": "Le libellé est trop long (%(max)s caractères au plus).",
    "The expiry date must be in the future.": "La date d'expiration doit être dans le futur.",
    "You have no role in: %(codes)s.": "Vous n'avez aucun rôle dans : %(codes)s.",
    "You have no role in any study: a token would reach nothing.":
        "Vous n'avez de rôle dans aucune étude : un jeton n'atteindrait rien.",
    "in 30 days": "dans 30 jours",
    "in 90 days": "dans 90 jours",
    "in a year": "dans un an",
    "never (revoke it when no longer needed)": "jamais (révoquez-le quand il ne sert plus)",
    "Label": "Libellé",
    'What the token is for, e.g. "R analysis".': "À quoi sert le jeton, par exemple « Analyse R ».",
    "Expires": "Expire",
    "Only these studies": "Seulement ces études",
    "None ticked: every study where you have a role, now or later.":
        "Aucune cochée : toutes les études où vous avez un rôle, maintenant ou plus tard.",
    "API tokens": "Jetons d'API",
    "No such token among yours.": "Aucun jeton de ce type parmi les vôtres.",
    "Token %(label)s revoked: programs using it are refused from now on.":
        "Jeton %(label)s révoqué : les programmes qui l'utilisent sont refusés dès maintenant.",
    # surveys/models/api.py
    "starts with": "commence par",
    "only these studies": "seulement ces études",
    "created at": "créé le",
    "expires at": "expire le",
    "last used at": "dernière utilisation le",
    "revoked at": "révoqué le",
    "API token": "jeton d'API",
    # templates/staff/api_tokens.html
    "A token lets a program (an R or Python script, a data warehouse) read the API at %(api_url)s as you: it "
    "reaches what your roles reach, by pseudonym only, and nothing more. Send it as <code>Authorization: Bearer "
    "&lt;token&gt;</code>.":
        "Un jeton permet à un programme (un script R ou Python, un entrepôt de données) de lire l'API sur "
        "%(api_url)s en votre nom : il atteint ce que vos rôles atteignent, par pseudonyme seulement, et rien de "
        "plus. Envoyez-le ainsi : <code>Authorization: Bearer &lt;jeton&gt;</code>.",
    "API documentation": "Documentation de l'API",
    "Your new token “%(label)s”": "Votre nouveau jeton « %(label)s »",
    "Copy it now: it is shown only once and cannot be shown again.":
        "Copiez-le maintenant : il n'est montré qu'une fois et ne peut plus être affiché ensuite.",
    "Token": "Jeton",
    "Your tokens": "Vos jetons",
    "Starts with": "Commence par",
    "Studies": "Études",
    "Created": "Créé le",
    "Last used": "Dernière utilisation",
    "State": "État",
    "Actions": "Actions",
    "all yours": "toutes les vôtres",
    "revoked %(at)s": "révoqué le %(at)s",
    "expired": "expiré",
    "active": "actif",
    "Revoke": "Révoquer",
    "Revoke token %(label)s": "Révoquer le jeton %(label)s",
    "You have no API token.": "Vous n'avez aucun jeton d'API.",
    "Make a token": "Créer un jeton",
    "Make the token": "Créer le jeton",
}
