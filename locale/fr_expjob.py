"""French for export jobs (expjob): the export page, a job's progress and download, the audit row."""

FR = {
    # surveys/models/exports.py
    "Streamed from the page": "Téléchargé depuis la page",
    "Background job": "Tâche en arrière-plan",
    "Waiting for a worker": "En attente d’un processus de traitement",
    "Running": "En cours",
    "Done": "Terminé",
    "Failed": "Échec",
    "Interrupted download": "Téléchargement interrompu",
    "Expired (file deleted)": "Expiré (fichier supprimé)",
    "requested by": "demandé par",
    "mode": "mode",
    "what was exported": "contenu exporté",
    "format": "format",
    "status": "statut",
    "requested at": "demandé le",
    "started at": "commencé le",
    "finished at": "terminé le",
    "file expires at": "fichier disponible jusqu’au",
    "attempts": "tentatives",
    "rows": "lignes",
    "size (bytes)": "taille (octets)",
    "SHA-256": "SHA-256",
    "file name": "nom du fichier",
    "error": "erreur",
    "downloads": "téléchargements",
    "last downloaded at": "dernier téléchargement le",
    "export": "export",
    "exports": "exports",
    # surveys/exports/jobs.py
    "The download stopped after %(size)s bytes: the connection was closed before the end.":
        "Le téléchargement s’est arrêté après %(size)s octets : la connexion a été fermée avant la fin.",
    "The worker stopped during this export %(n)s times (killed or out of memory); it was not tried again. "
    "Start a new export, or ask the administrator to check the workers.":
        "Le processus de traitement s’est arrêté %(n)s fois pendant cet export (tué ou à court de mémoire) ; "
        "il n’a pas été relancé. Lancez un nouvel export, ou demandez à l’administrateur de vérifier les "
        "processus de traitement.",
    "The download never finished: the server stopped while sending it.":
        "Le téléchargement ne s’est jamais terminé : le serveur s’est arrêté pendant l’envoi.",
    # surveys/exports/views.py
    "Export the data": "Exporter les données",
    "No such export among yours.": "Aucun export de ce numéro parmi les vôtres.",
    "Export the data of %(study)s": "Exporter les données de %(study)s",
    "Export %(id)s of %(study)s": "Export %(id)s de %(study)s",
    "Questionnaires": "Questionnaires",
    "None ticked: every questionnaire of the study.": "Aucun coché : tous les questionnaires de l’étude.",
    "Answers as": "Réponses sous forme de",
    "Raw codes (as in the codebook)": "Codes bruts (ceux du dictionnaire des variables)",
    "Labels": "Libellés",
    "Language of labels": "Langue des libellés",
    "Dates": "Dates",
    "Leave out free-text answers": "Exclure les réponses en texte libre",
    "Submitted responses only": "Réponses envoyées uniquement",
    # templates/staff/export*.html
    "Exports hold pseudonyms only. Each one is recorded: who asked, when, what, and the SHA-256 of the file "
    "delivered.":
        "Les exports ne contiennent que des pseudonymes. Chacun est enregistré : qui l’a demandé, quand, quoi, "
        "et le SHA-256 du fichier remis.",
    "New export": "Nouvel export",
    "Export": "Exporter",
    "Prepare in the background": "Préparer en arrière-plan",
    "Your background exports": "Vos exports en arrière-plan",
    "Requested": "Demandé le",
    "Status": "Statut",
    "File": "Fichier",
    "until %(date)s": "jusqu’au %(date)s",
    "None yet.": "Aucun pour l’instant.",
    "Export log of this study (latest first)": "Journal des exports de cette étude (le plus récent d’abord)",
    "When": "Quand",
    "Who": "Qui",
    "How": "Comment",
    "Rows": "Lignes",
    "Bytes": "Octets",
    "No export of this study yet.": "Aucun export de cette étude pour l’instant.",
    "Exports": "Exports",
    "Progress": "Avancement",
    "Waiting for a worker…": "En attente d’un processus de traitement…",
    "%(p)s %% (%(done)s of %(total)s)": "%(p)s %% (%(done)s sur %(total)s)",
    "Running…": "En cours…",
    "This page updates itself. You may also leave it: the export goes on, and the list of exports links to it.":
        "Cette page se met à jour d’elle-même. Vous pouvez aussi la quitter : l’export continue, et la liste des "
        "exports y mène.",
    "Reload": "Recharger",
    "Download %(name)s": "Télécharger %(name)s",
    "%(size)s, available until %(date)s.": "%(size)s, disponible jusqu’au %(date)s.",
    "SHA-256 of the file:": "SHA-256 du fichier :",
    "This export expired on %(date)s: its file was deleted. Start a new export to get the data again.":
        "Cet export a expiré le %(date)s : son fichier a été supprimé. Lancez un nouvel export pour obtenir à "
        "nouveau les données.",
    "This export failed; no file was kept.": "Cet export a échoué ; aucun fichier n’a été conservé.",
    "This export is not ready yet.": "Cet export n’est pas encore prêt.",
    "See its progress": "Voir son avancement",
    "The file of this export is no longer on the server. Start a new export to get the data again.":
        "Le fichier de cet export n’est plus sur le serveur. Lancez un nouvel export pour obtenir à nouveau les "
        "données.",
    "Back to the exports": "Retour aux exports",
}

FR_PLURAL = {
    "An export of up to %(n)s response downloads at once; a larger one is prepared in the background: its page "
    "shows the progress, then a download link.": [
        "Un export d’au plus %(n)s réponse se télécharge aussitôt ; un export plus grand est préparé en "
        "arrière-plan : sa page montre l’avancement, puis un lien de téléchargement.",
        "Un export d’au plus %(n)s réponses se télécharge aussitôt ; un export plus grand est préparé en "
        "arrière-plan : sa page montre l’avancement, puis un lien de téléchargement.",
    ],
    "Ready: %(n)s row.": ["Prêt : %(n)s ligne.", "Prêt : %(n)s lignes."],
}
