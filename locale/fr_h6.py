"""French for withdrawal, re-identification and two-factor pages (issue 4, points 2 and 6)."""

FR = {
    # patient pages
    "Leave the study": "Quitter l'étude",
    "You can stop taking part at any time, without giving a reason. It changes nothing in the care you receive.":
        "Vous pouvez arrêter de participer à tout moment, sans donner de raison. Cela ne change rien aux soins "
        "que vous recevez.",
    "If you leave, you will receive no more questionnaires or messages from this study.":
        "Si vous quittez l'étude, vous ne recevrez plus de questionnaires ni de messages de sa part.",
    "There is a problem": "Il y a un problème",
    "What should happen to the answers you have already given?":
        "Que souhaitez-vous pour les réponses que vous avez déjà données ?",
    "Answers that are kept stay under a code, without your name, and are only used for this research.":
        "Les réponses conservées restent sous un code, sans votre nom, et ne servent qu'à cette recherche.",
    "Keep my answers for the research": "Garder mes réponses pour la recherche",
    "Delete my answers": "Supprimer mes réponses",
    "Stay in the study": "Rester dans l'étude",
    "Choose what should happen to your answers.": "Choisissez ce que deviennent vos réponses.",
    "You have left the study": "Vous avez quitté l'étude",
    "You will receive no more questionnaires or messages from this study.":
        "Vous ne recevrez plus de questionnaires ni de messages de cette étude.",
    "The answers you had given have been deleted.": "Les réponses que vous aviez données ont été supprimées.",
    "The answers you had already given are kept for the research, under a code, without your name.":
        "Les réponses que vous aviez déjà données sont conservées pour la recherche, sous un code, sans votre nom.",
    "Thank you for the time you gave. If you have a question, contact the practice that invited you. "
    "You can close this page.":
        "Merci pour le temps que vous nous avez consacré. Pour toute question, contactez le cabinet qui vous a "
        "invité. Vous pouvez fermer cette page.",
    # staff: withdrawal
    "Withdraw %(pseudonym)s": "Retirer %(pseudonym)s",
    "Participants": "Participants",
    "Study: %(study)s · site: %(site)s": "Étude : %(study)s · site : %(site)s",
    "Withdrawn on %(at)s (%(by)s).": "Retiré le %(at)s (%(by)s).",
    "Withdrawn on": "Retiré le",
    "The data already collected is kept.": "Les données déjà recueillies sont conservées.",
    "Delete the data already collected": "Supprimer les données déjà recueillies",
    "Keep the data already collected": "Conserver les données déjà recueillies",
    "Delete the data": "Supprimer les données",
    "Withdrawal stops the follow-up at once: every questionnaire not yet answered is cancelled and no message "
    "is sent any more. It cannot be undone.":
        "Le retrait arrête le suivi immédiatement : chaque questionnaire sans réponse est annulé et plus aucun "
        "message n'est envoyé. Il est définitif.",
    "Please correct the errors below.": "Veuillez corriger les erreurs ci-dessous.",
    "Withdraw this patient": "Retirer ce patient",
    "No, take me back": "Non, revenir en arrière",
    "Data already collected": "Données déjà recueillies",
    "I understand that deleted answers cannot be recovered (only needed to delete).":
        "Je comprends que les réponses supprimées ne peuvent pas être récupérées (seulement pour supprimer).",
    "Reason (optional, never the patient's name)": "Motif (facultatif, jamais le nom du patient)",
    "Choose whether the data already collected is kept or deleted.":
        "Choisissez si les données déjà recueillies sont conservées ou supprimées.",
    "Tick this box to confirm that the answers will be deleted for good.":
        "Cochez cette case pour confirmer que les réponses seront supprimées définitivement.",
    "Keep the reason under %(max)s characters.": "Le motif doit faire moins de %(max)s caractères.",
    "%(pseudonym)s is withdrawn: no more questionnaires or messages.":
        "%(pseudonym)s est retiré : plus de questionnaires ni de messages.",
    # staff: re-identification
    "Who is %(pseudonym)s?": "Qui est %(pseudonym)s ?",
    "Seeing who is behind a pseudonym is recorded: your name, the time and the reason you give are kept in the "
    "audit trail.":
        "Voir qui se cache derrière un pseudonyme est tracé : votre nom, l'heure et le motif donné sont conservés "
        "dans le journal d'audit.",
    "Why do you need to see who this is?": "Pourquoi avez-vous besoin de savoir de qui il s'agit ?",
    "For example: to call the patient back about a missed visit.":
        "Par exemple : rappeler le patient au sujet d'une visite manquée.",
    "Show the identity": "Afficher l'identité",
    "Say why you need to see who this is.": "Indiquez pourquoi vous avez besoin de savoir de qui il s'agit.",
    "This lookup has been recorded with your reason. Do not copy these details into research data.":
        "Cette consultation a été enregistrée avec votre motif. Ne recopiez pas ces informations dans les données "
        "de recherche.",
    "Name": "Nom",
    "Date of birth": "Date de naissance",
    "Email": "E-mail",
    "Phone": "Téléphone",
    "Preferred channel": "Canal préféré",
    "Language": "Langue",
    "Time zone": "Fuseau horaire",
    "Enrolled on": "Inclus le",
    "Consent": "Consentement",
    "Back to the participant": "Retour au participant",
}

FR_PLURAL = {
    "%(count)s response deleted.": ["%(count)s réponse supprimée.", "%(count)s réponses supprimées."],
    "The data already collected was deleted (%(n)s response).": [
        "Les données déjà recueillies ont été supprimées (%(n)s réponse).",
        "Les données déjà recueillies ont été supprimées (%(n)s réponses).",
    ],
    "The patient may still ask for their answers to be erased. %(n)s response would be deleted for good, with its "
    "history.": [
        "Le patient peut encore demander l'effacement de ses réponses. %(n)s réponse serait supprimée "
        "définitivement, avec son historique.",
        "Le patient peut encore demander l'effacement de ses réponses. %(n)s réponses seraient supprimées "
        "définitivement, avec leur historique.",
    ],
    "%(n)s response so far. Deleting removes it and its history for good; the audit trail only records how many "
    "were deleted.": [
        "%(n)s réponse à ce jour. La supprimer l'efface définitivement avec son historique ; le journal d'audit "
        "n'enregistre que le nombre supprimé.",
        "%(n)s réponses à ce jour. Les supprimer les efface définitivement avec leur historique ; le journal "
        "d'audit n'enregistre que le nombre supprimé.",
    ],
}
