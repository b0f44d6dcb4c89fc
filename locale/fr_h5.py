"""French for the consent and pre-screening strings (h5)."""

FR = {
    # patients/consent.py
    "This study needs your consent.": "Cette étude a besoin de votre consentement.",
    "Tick the box to say you agree to take part.": "Cochez la case pour dire que vous acceptez de participer.",
    "Type your first name and last name.": "Écrivez votre prénom et votre nom.",
    "Write at most %(n)s characters.": "Écrivez au plus %(n)s caractères.",
    "This notice belongs to another study.": "Cette notice appartient à une autre étude.",
    "This patient has withdrawn from the study.": "Ce patient s'est retiré de l'étude.",
    # surveys/screening.py
    "Unknown operator %(op)s (use one of %(ops)s).": "Opérateur inconnu %(op)s (utilisez l'un de %(ops)s).",
    "Give the answer to compare with.": "Indiquez la réponse à comparer.",
    "This study has no eligibility questionnaire yet: choose one on the study first.":
        "Cette étude n'a pas encore de questionnaire d'éligibilité : choisissez-en un sur l'étude d'abord.",
    "%(code)s is not a question of the eligibility questionnaire (%(known)s).":
        "%(code)s n'est pas une question du questionnaire d'éligibilité (%(known)s).",
    "%(answer)s is not an option code of %(code)s (%(known)s).":
        "%(answer)s n'est pas un code de réponse de %(code)s (%(known)s).",
    "choose an eligibility questionnaire first": "choisissez d'abord un questionnaire d'éligibilité",
    "pseudonyms derived from an identifier need an investigator to enrol":
        "les pseudonymes dérivés d'un identifiant exigent une inclusion par un investigateur",
    "add an information notice first": "ajoutez d'abord une notice d'information",
    "%(study)s: %(problems)s.": "%(study)s : %(problems)s.",
    # surveys/admin_consent.py
    "operator": "opérateur",
    "As for display conditions. exists: answer true (answered) or false (not answered).":
        "Comme pour les conditions d'affichage. exists : réponse true (répondu) ou false (non répondu).",
    "Open (or show) the public pre-screening link": "Ouvrir (ou afficher) le lien public de pré-sélection",
    "Close the public pre-screening link": "Fermer le lien public de pré-sélection",
    "%(study)s: only its designers may do this.": "%(study)s : seuls ses concepteurs peuvent le faire.",
    "%(study)s: pre-screening link %(url)s": "%(study)s : lien de pré-sélection %(url)s",
    "%(study)s: the pre-screening link no longer works.": "%(study)s : le lien de pré-sélection ne fonctionne plus.",
    # templates/patient/consent.html
    "Information notice not available": "Notice d'information indisponible",
    "The information notice of this study is not available yet. Please contact the practice that sent you this link.":
        "La notice d'information de cette étude n'est pas encore disponible. Contactez le cabinet qui vous a "
        "envoyé ce lien.",
    "Information notice, version %(version)s": "Notice d'information, version %(version)s",
    "This notice is not available in your language yet.": "Cette notice n'est pas encore disponible dans votre langue.",
    "Your choice": "Votre choix",
    "Your data will be used for this study unless you object. You may object at any time, without giving a reason; "
    "it changes nothing in your care.":
        "Vos données seront utilisées pour cette étude sauf si vous vous y opposez. Vous pouvez vous y opposer à "
        "tout moment, sans donner de raison ; cela ne change rien à vos soins.",
    "I do not object": "Je ne m'oppose pas",
    "Your consent": "Votre consentement",
    "I have read the information notice and I agree to take part in this study.":
        "J'ai lu la notice d'information et j'accepte de participer à cette étude.",
    "Your first name and last name": "Votre prénom et votre nom",
    "Typing your name here is how you sign.": "Écrire votre nom ici vaut signature.",
    "I agree": "J'accepte",
    "I object: I do not want my data to be used": "Je m'oppose : je ne veux pas que mes données soient utilisées",
    "I do not want to take part": "Je ne souhaite pas participer",
    # templates/patient/screening_*.html
    "Can I take part?": "Puis-je participer ?",
    "A few questions to see whether the study “%(study)s” is looking for people like you.":
        "Quelques questions pour savoir si l'étude « %(study)s » recherche des personnes comme vous.",
    "We ask for no name or contact details at this stage. If the study is not for you, your answers are not kept.":
        "Nous ne demandons ni nom ni coordonnées à cette étape. Si l'étude ne vous concerne pas, vos réponses "
        "ne sont pas conservées.",
    "Start": "Commencer",
    "This study is looking for other profiles at the moment. Thank you very much for your interest and for the "
    "time you gave.":
        "Cette étude recherche d'autres profils pour le moment. Merci beaucoup de votre intérêt et du temps "
        "que vous nous avez accordé.",
    "Your answers have not been kept. You can close this page.":
        "Vos réponses n'ont pas été conservées. Vous pouvez fermer cette page.",
    "How can we reach you?": "Comment vous joindre ?",
    "We will send you a personal link to each questionnaire. Your contact details are kept apart from your answers, "
    "encrypted, and seen only by the study team.":
        "Nous vous enverrons un lien personnel pour chaque questionnaire. Vos coordonnées sont conservées à part "
        "de vos réponses, chiffrées, et vues seulement par l'équipe de l'étude.",
    "Mobile phone": "Téléphone portable",
    "For example 06 12 34 56 78. Needed to receive text messages.":
        "Par exemple 06 12 34 56 78. Nécessaire pour recevoir des SMS.",
    "Email address": "Adresse e-mail",
    "Needed to receive emails.": "Nécessaire pour recevoir des e-mails.",
    "How should we send you the links?": "Comment vous envoyer les liens ?",
    "By text message (SMS)": "Par SMS",
    "By email": "Par e-mail",
    "Language of the questionnaires": "Langue des questionnaires",
    "Date of birth": "Date de naissance",
    "For example 31/12/1956. Your year of birth protects your questionnaire links.":
        "Par exemple 31/12/1956. Votre année de naissance protège vos liens vers les questionnaires.",
    "Join the study": "Participer à l'étude",
    "Welcome to the study": "Bienvenue dans l'étude",
    "Thank you for joining “%(study)s”.": "Merci de participer à « %(study)s ».",
    "Your first questionnaire is ready.": "Votre premier questionnaire est prêt.",
    "Start my first questionnaire": "Commencer mon premier questionnaire",
    "We will send you a message when your first questionnaire is ready. You can close this page.":
        "Nous vous enverrons un message quand votre premier questionnaire sera prêt. Vous pouvez fermer cette page.",
}

FR_PLURAL = {
    "There is a problem": ["Il y a un problème", "Il y a %(n)s problèmes"],
}
