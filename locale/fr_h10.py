"""French for the outbox, the resend, email tracking errors and the re-planning page (h10)."""

FR = {
    # patients/models.py: MessageResend
    "message resend": "renvoi de message",
    "message resends": "renvois de messages",
    # patients/outbox.py: kinds and errors in words
    "Reminder %(n)s": "Relance %(n)s",
    "Not a valid mobile number": "Numéro de mobile non valide",
    "The phone could not be reached": "Le téléphone n'a pas pu être joint",
    "The patient opted out of SMS (STOP)": "Le patient a refusé les SMS (STOP)",
    "Email bounced": "E-mail rejeté par le serveur du destinataire",
    "Email refused by the provider": "E-mail refusé par le prestataire",
    "Email could not be sent": "L'e-mail n'a pas pu être envoyé",
    "Email delayed by the receiving server": "E-mail retardé par le serveur du destinataire",
    "Patient withdrawn": "Patient sorti de l'étude",
    "Questionnaire cancelled": "Questionnaire annulé",
    "No address for this channel": "Aucune adresse pour ce canal",
    "Outcome unknown: the worker stopped while sending. Check with the provider before resending.":
        "Résultat inconnu : l'envoi a été interrompu. Vérifiez auprès du prestataire avant de renvoyer.",
    "invalid address": "adresse non valide",
    "address bounced before": "adresse déjà rejetée auparavant",
    "repeated delivery failures": "échecs de distribution répétés",
    "blocked by the provider": "bloqué par le prestataire",
    "marked as spam before": "déjà signalé comme indésirable",
    "the patient unsubscribed": "le patient s'est désabonné",
    "other reason": "autre raison",
    "SMS not delivered (Twilio %(status)s%(code)s)": "SMS non distribué (Twilio %(status)s%(code)s)",
    # patients/outbox.py: resend refused
    "%(pseudonym)s has withdrawn from the study: nothing more is sent.":
        "%(pseudonym)s est sorti de l'étude : plus rien ne lui est envoyé.",
    "This message has not been sent yet: it will go out at its planned time.":
        "Ce message n'est pas encore parti : il sera envoyé à l'heure prévue.",
    "The patient has opted out of SMS (STOP): no SMS can be sent.":
        "Le patient a refusé les SMS (STOP) : aucun SMS ne peut lui être envoyé.",
    "The patient has no mobile number.": "Le patient n'a pas de numéro de mobile.",
    "The patient's email address is undeliverable: no email can be sent.":
        "L'adresse e-mail du patient n'est pas distribuable : aucun e-mail ne peut lui être envoyé.",
    "The patient has no email address.": "Le patient n'a pas d'adresse e-mail.",
    "The questionnaire has been completed: there is nothing to remind.":
        "Le questionnaire a été rempli : il n'y a rien à rappeler.",
    "The questionnaire's window has closed: the link no longer works.":
        "La période de réponse est terminée : le lien ne fonctionne plus.",
    "A resend of this message is already waiting to go out.": "Un renvoi de ce message attend déjà de partir.",
    "Say why this message is sent again (it is kept in the audit trail).":
        "Indiquez pourquoi ce message est renvoyé (le motif est conservé dans la piste d'audit).",
    "The questionnaire closes before the next sending window: it cannot be sent again.":
        "Le questionnaire se ferme avant la prochaine plage d'envoi : il ne peut pas être renvoyé.",
    # patients/web/outbox.py and templates/staff/outbox*.html
    "Outbox of %(study)s": "Boîte d'envoi — %(study)s",
    "Send this message again": "Renvoyer ce message",
    "%(kind)s for %(pseudonym)s will be sent again on %(at)s (resend %(n)s).":
        "%(kind)s pour %(pseudonym)s : nouvel envoi le %(at)s (renvoi %(n)s).",
    "Times are shown in the study's time zone (%(tz)s). Patients are shown by pseudonym only.":
        "Les heures sont celles du fuseau horaire de l'étude (%(tz)s). Les patients n'apparaissent que "
        "sous leur pseudonyme.",
    "Per timepoint": "Par temps de mesure",
    "Messages": "Messages",
    "Questionnaires": "Questionnaires",
    "Assigned": "Attendus",
    "Opened": "Ouverts",
    "This study has no timepoints yet.": "Cette étude n'a pas encore de temps de mesure.",
    '"Sent" counts messages handed to the provider, including those delivered or failed since. '
    '"Opened" counts questionnaires whose link the patient opened.':
        "« Envoyés » compte les messages remis au prestataire, y compris ceux distribués ou en échec depuis. "
        "« Ouverts » compte les questionnaires dont le patient a ouvert le lien.",
    "Failed messages: these did not reach the patient. Check the error, then resend or contact the patient "
    "another way.":
        "Messages en échec : ils ne sont pas parvenus au patient. Vérifiez l'erreur, puis renvoyez-les ou "
        "contactez le patient autrement.",
    "Failed messages, latest first": "Messages en échec, les plus récents d'abord",
    "See every failed message": "Voir tous les messages en échec",
    "Show": "Afficher",
    "Sent, failed or cancelled (latest first)": "Envoyés, en échec ou annulés (les plus récents d'abord)",
    "Upcoming (soonest first)": "À venir (les plus proches d'abord)",
    "Status": "Statut",
    "All": "Tous",
    "Channel": "Canal",
    "Filter": "Filtrer",
    "Upcoming messages": "Messages à venir",
    "Past messages": "Messages passés",
    "No message matches.": "Aucun message ne correspond.",
    "Pages": "Pages",
    "Outbox": "Boîte d'envoi",
    "Pseudonym": "Pseudonyme",
    "Message": "Message",
    "Send at": "Envoi prévu",
    "Error": "Erreur",
    "Resends": "Renvois",
    "Action": "Action",
    "The message": "Le message",
    "The same message is sent again through the same channel, with a new link (earlier links to this "
    "questionnaire stop working): at once if it is within the sending hours in the patient’s time zone, "
    "otherwise when they next begin. Your name and the reason are kept in the audit trail.":
        "Le même message est renvoyé par le même canal, avec un nouveau lien (les liens précédents vers ce "
        "questionnaire cessent de fonctionner) : tout de suite si l'on est dans les heures d'envoi du fuseau "
        "horaire du patient, sinon à leur prochaine ouverture. Votre nom et le motif sont conservés dans la "
        "piste d'audit.",
    "Reason": "Motif",
    "e.g. the patient called: they deleted the SMS by mistake. Never write the patient’s name or contact "
    "details here.":
        "p. ex. le patient a appelé : il a effacé le SMS par erreur. N'écrivez jamais ici le nom ni les "
        "coordonnées du patient.",
    "Send it again": "Renvoyer",
    "resend %(n)s": "renvoi %(n)s",
    "Resend…": "Renvoyer…",
    # surveys/replan_views.py and templates/staff/replan.html
    "Re-plan the schedule of %(study)s": "Replanifier le calendrier — %(study)s",
    "Nothing to apply: the assignments already follow the schedule.":
        "Rien à appliquer : les questionnaires attendus suivent déjà le calendrier.",
    "Timepoints": "Temps de mesure",
    "Re-plan": "Replanifier",
    "The schedule or the assignments changed since the page was shown: nothing was applied. Check the "
    "changes below again.":
        "Le calendrier ou les questionnaires attendus ont changé depuis l'affichage de la page : rien n'a été "
        "appliqué. Vérifiez à nouveau les changements ci-dessous.",
    "Editing a timepoint changes no patient’s dates by itself. Here is what the current schedule would change "
    "for the patients enrolled and active: only questionnaires not yet open move (an open one has already "
    "been announced), and their messages not yet sent are planned again.":
        "Modifier un temps de mesure ne change à lui seul les dates d'aucun patient. Voici ce que le calendrier "
        "actuel changerait pour les patients inclus et actifs : seuls les questionnaires pas encore ouverts "
        "sont déplacés (un questionnaire ouvert a déjà été annoncé), et leurs messages pas encore envoyés sont "
        "replanifiés.",
    "Nothing to do: every enrolled patient’s assignments already follow the schedule.":
        "Rien à faire : les questionnaires attendus de chaque patient inclus suivent déjà le calendrier.",
    "Changes: %(n)s. Participants concerned: %(p)s.": "Changements : %(n)s. Participants concernés : %(p)s.",
    "Times are in the study's time zone (%(tz)s).": "Heures du fuseau horaire de l'étude (%(tz)s).",
    "By timepoint": "Par temps de mesure",
    "New assignments": "Nouveaux questionnaires attendus",
    "Changes": "Changements",
    "Change": "Changement",
    "Opens (now)": "Ouverture (actuelle)",
    "Closes (now)": "Fermeture (actuelle)",
    "Opens (new)": "Ouverture (nouvelle)",
    "Closes (new)": "Fermeture (nouvelle)",
    "Back to the timepoints": "Retour aux temps de mesure",
    # Suggested for surveys/admin.py (TimepointAdmin.save_model message, StudyAdmin outbox link)
    'Enrolled patients keep their dates until the change is applied: <a href="{}">review and apply it</a>.':
        'Les patients inclus gardent leurs dates tant que le changement n\'est pas appliqué : '
        '<a href="{}">le vérifier et l\'appliquer</a>.',
}

FR_PLURAL = {
    "%(count)s assignment moved or created; its messages not yet sent were planned again.": [
        "%(count)s questionnaire attendu déplacé ou créé ; ses messages pas encore envoyés ont été replanifiés.",
        "%(count)s questionnaires attendus déplacés ou créés ; leurs messages pas encore envoyés ont été "
        "replanifiés.",
    ],
    "%(n)s message": ["%(n)s message", "%(n)s messages"],
    "resent %(n)s time": ["renvoyé %(n)s fois", "renvoyé %(n)s fois"],
    "the first ones are listed, %(n)s more not shown": [
        "seuls les premiers sont listés, %(n)s autre non affiché",
        "seuls les premiers sont listés, %(n)s autres non affichés",
    ],
    "Apply this change": ["Appliquer ce changement", "Appliquer ces %(n)s changements"],
}
