"""French for the public pre-screening link's rate limits and one-time code."""

FR = {
    # templates/patient/screening_busy.html
    "Please try again later": "Veuillez réessayer plus tard",
    "We have received many requests from your connection or for this study in a short time. To protect the "
    "people who take part, we have paused new registrations for a while.":
        "Nous avons reçu beaucoup de demandes depuis votre connexion ou pour cette étude en peu de temps. Pour "
        "protéger les personnes qui y participent, nous avons suspendu les nouvelles inscriptions pour un moment.",
    "Nothing you entered has been kept. Please come back in an hour, or ask the practice that gave you this link.":
        "Rien de ce que vous avez saisi n'a été conservé. Revenez dans une heure, ou demandez au cabinet qui vous a "
        "donné ce lien.",
    # templates/patient/screening_code.html
    "Enter the code we sent you": "Saisissez le code que nous vous avons envoyé",
    "Too many wrong codes. For your security this code no longer works.":
        "Trop de codes erronés. Pour votre sécurité, ce code ne fonctionne plus.",
    "This code is no longer valid: it has expired or has already been used.":
        "Ce code n'est plus valable\u202f: il a expiré ou a déjà été utilisé.",
    "Nothing has been kept. Enter your details again to receive a new code.":
        "Rien n'a été conservé. Saisissez de nouveau vos coordonnées pour recevoir un nouveau code.",
    "Get a new code": "Recevoir un nouveau code",
    "Code received": "Code reçu",
    "6 digits, for example 123456": "6 chiffres, par exemple 123456",
    "Confirm": "Confirmer",
    "Change my details or get a new code": "Modifier mes coordonnées ou recevoir un nouveau code",
    # patients/screening_codes.py
    "Your confirmation code": "Votre code de confirmation",
    "We could not send a text message to this number. Check it, or choose to be reached by email.":
        "Nous n'avons pas pu envoyer de SMS à ce numéro. Vérifiez-le, ou choisissez d'être contacté par e-mail.",
    "We could not send the code just now. Please try again in a few minutes.":
        "Nous n'avons pas pu envoyer le code pour le moment. Réessayez dans quelques minutes.",
    "We could not send the code to this address. Check it and try again.":
        "Nous n'avons pas pu envoyer le code à cette adresse. Vérifiez-la et réessayez.",
}

FR_PLURAL = {
    "We have sent a 6-digit code to %(hint)s. It is valid for %(minutes)s minute. Your registration is "
    "complete once you have entered it.": [
        "Nous avons envoyé un code à 6 chiffres à %(hint)s. Il est valable %(minutes)s minute. Votre inscription "
        "sera terminée une fois ce code saisi.",
        "Nous avons envoyé un code à 6 chiffres à %(hint)s. Il est valable %(minutes)s minutes. Votre inscription "
        "sera terminée une fois ce code saisi.",
    ],
    "This code is not right. Please check it and try again: %(n)s attempt left.": [
        "Ce code n'est pas le bon. Vérifiez-le et réessayez\u202f: il vous reste %(n)s essai.",
        "Ce code n'est pas le bon. Vérifiez-le et réessayez\u202f: il vous reste %(n)s essais.",
    ],
    "%(sender)s: your code is %(code)s. It expires in %(minutes)s minute. "
    "If you did not ask for it, ignore this message.": [
        "%(sender)s : votre code est %(code)s. Il expire dans %(minutes)s minute. "
        "Si vous ne l'avez pas demandé, ignorez ce message.",
        "%(sender)s : votre code est %(code)s. Il expire dans %(minutes)s minutes. "
        "Si vous ne l'avez pas demandé, ignorez ce message.",
    ],
}
