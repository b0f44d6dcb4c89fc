"""French for the enrolment page, the bulk import and sites (h4)."""

FR = {
    # patients/web/enrolment.py
    "Name": "Nom",
    "Mobile phone": "Téléphone mobile",
    "e.g. 06 12 34 56 78 or +33 6 12 34 56 78": "par ex. 06 12 34 56 78 ou +33 6 12 34 56 78",
    "Email": "E-mail",
    "Date of birth": "Date de naissance",
    "Send links by": "Envoyer les liens par",
    "Language": "Langue",
    "Time zone": "Fuseau horaire",
    "Site": "Site",
    "Consent": "Consentement",
    "Information notice given": "Note d'information remise",
    "Identifier for the pseudonym": "Identifiant pour le pseudonyme",
    "Hospital or national number: the pseudonym is derived from it; the identifier itself is never stored.":
        "Numéro hospitalier ou national : le pseudonyme en est dérivé ; l'identifiant lui-même n'est jamais "
        "enregistré.",
    "Your access is limited to this site.": "Votre accès est limité à ce site.",
    "— no site —": "— aucun site —",
    "Enrol a patient in %(study)s": "Inclure un patient dans %(study)s",
    "Patient enrolled": "Patient inclus",
    "Import patients into %(study)s": "Importer des patients dans %(study)s",
    "Spreadsheet (.csv or .xlsx)": "Tableur (.csv ou .xlsx)",
    # patients/importing.py
    "Send a .csv or .xlsx file.": "Envoyez un fichier .csv ou .xlsx.",
    "The file is empty.": "Le fichier est vide.",
    "Unknown column %(name)s (known: %(known)s).": "Colonne %(name)s inconnue (colonnes connues : %(known)s).",
    "Column %(name)s appears twice.": "La colonne %(name)s apparaît deux fois.",
    "Column %(name)s is missing.": "La colonne %(name)s manque.",
    "The file is not UTF-8 text: in Excel, save it as \"CSV UTF-8\".":
        "Le fichier n'est pas du texte UTF-8 : dans Excel, enregistrez-le au format « CSV UTF-8 ».",
    "The file cannot be read as an .xlsx workbook.": "Le fichier ne peut pas être lu comme un classeur .xlsx.",
    "You may only enrol patients at site %(site)s.": "Vous ne pouvez inclure des patients qu'au site %(site)s.",
    "Same phone number as line %(line)s.": "Même numéro de téléphone qu'à la ligne %(line)s.",
    "Same email address as line %(line)s.": "Même adresse e-mail qu'à la ligne %(line)s.",
    "Same identifier as line %(line)s.": "Même identifiant qu'à la ligne %(line)s.",
    # surveys/admin.py (study list and page)
    "patients": "patients",
    "Enrol a patient": "Inclure un patient",
    "Import patients": "Importer des patients",
    # templates/staff/enrol*.html
    "Home": "Accueil",
    "Studies": "Études",
    "Enrol one patient in %(study)s. Give a mobile phone (links by SMS) or an email address. The patient's "
    "identity is encrypted and seen only by the study's investigators.":
        "Inclure un patient dans %(study)s. Indiquez un téléphone mobile (liens par SMS) ou une adresse e-mail. "
        "L'identité du patient est chiffrée et visible des seuls investigateurs de l'étude.",
    "Import many patients from a spreadsheet": "Importer de nombreux patients depuis un tableur",
    "Please correct the errors below: nothing was saved.":
        "Corrigez les erreurs ci-dessous : rien n'a été enregistré.",
    "Patient": "Patient",
    "Enrol": "Inclure",
    "Pseudonym of the new participant (write it in the patient file):":
        "Pseudonyme du nouveau participant (à noter dans le dossier du patient) :",
    "pseudonym": "pseudonyme",
    "notice": "note",
    "Planned questionnaires (times in %(tz)s)": "Questionnaires prévus (heures de %(tz)s)",
    "Timepoint": "Temps de mesure",
    "Opens": "Ouverture",
    "Closes": "Fermeture",
    "Questionnaires open only once the patient has consented from their link.":
        "Les questionnaires ne s'ouvrent qu'une fois le consentement donné par le patient depuis son lien.",
    "This study has no timepoints yet: nothing is planned.":
        "Cette étude n'a pas encore de temps de mesure : rien n'est prévu.",
    "Enrol another patient": "Inclure un autre patient",
    "Open the enrolment": "Ouvrir l'inclusion",
    # templates/staff/import.html
    "Problems by line (the header is line 1)": "Problèmes par ligne (l'en-tête est la ligne 1)",
    "Line": "Ligne",
    "Column": "Colonne",
    "Problem": "Problème",
    "Import now": "Importer maintenant",
    "Choose the same file again: the file is never kept on the server between the check and the import. "
    "It is checked again, then every row is imported, or none.":
        "Choisissez à nouveau le même fichier : il n'est jamais conservé sur le serveur entre la vérification "
        "et l'import. Il est vérifié de nouveau, puis toutes les lignes sont importées, ou aucune.",
    "This is not the file that was checked: it was checked now instead, and nothing was imported.":
        "Ce n'est pas le fichier vérifié : il vient d'être vérifié à son tour, et rien n'a été importé.",
    "Check another file": "Vérifier un autre fichier",
    "Check a file (dry run)": "Vérifier un fichier (essai à blanc)",
    "Check the file": "Vérifier le fichier",
    "File format": "Format du fichier",
    "A .csv file (UTF-8, separated by commas or semicolons, as Excel saves \"CSV UTF-8\") or an .xlsx workbook "
    "(first sheet). Line 1 holds the column names below, in any order; each further line is one patient. "
    "Nothing is imported until every line is correct.":
        "Un fichier .csv (UTF-8, séparé par des virgules ou des points-virgules, comme Excel l'enregistre en "
        "« CSV UTF-8 ») ou un classeur .xlsx (première feuille). La ligne 1 porte les noms de colonnes ci-dessous, "
        "dans n'importe quel ordre ; chaque ligne suivante est un patient. Rien n'est importé tant que toutes "
        "les lignes ne sont pas correctes.",
    "Content": "Contenu",
    "Full name. Required.": "Nom complet. Obligatoire.",
    "Email address; needed when links go by email.": "Adresse e-mail ; nécessaire si les liens partent par e-mail.",
    "Mobile phone, e.g. 06 12 34 56 78 or +33612345678; needed when links go by SMS.":
        "Téléphone mobile, par ex. 06 12 34 56 78 ou +33612345678 ; nécessaire si les liens partent par SMS.",
    "Date of birth, DD/MM/YYYY or YYYY-MM-DD.": "Date de naissance, JJ/MM/AAAA ou AAAA-MM-JJ.",
    "One of %(languages)s; empty: fr.": "Une de %(languages)s ; vide : fr.",
    "e.g. Europe/Paris; empty: the study's (%(tz)s).": "par ex. Europe/Paris ; vide : celui de l'étude (%(tz)s).",
    "sms or email; empty: sms.": "sms ou email ; vide : sms.",
    "Site code; you may import for your site only (%(site)s), which empty cells get.":
        "Code du site ; vous ne pouvez importer que pour votre site (%(site)s), attribué aux cellules vides.",
    "Site code": "Code du site",
    "; may be empty.": " ; peut être vide.",
    "written, non_opposition (studies under non-opposition), or pending (the patient consents online from their "
    "link). Required column; an empty cell means pending.":
        "written (écrit), non_opposition (études sous non-opposition) ou pending (le patient consent en ligne "
        "depuis son lien). Colonne obligatoire ; une cellule vide vaut pending.",
    "Version of the information notice given to the patient.": "Version de la note d'information remise au patient.",
    "Only for studies deriving pseudonyms from an identifier (required there): hospital or national number. "
    "Never stored.":
        "Seulement pour les études qui dérivent les pseudonymes d'un identifiant (obligatoire alors) : numéro "
        "hospitalier ou national. Jamais enregistré.",
}

FR_PLURAL = {
    "%(count)d patient enrolled, %(planned)d questionnaires planned.": [
        "%(count)d patient inclus, %(planned)d questionnaires prévus.",
        "%(count)d patients inclus, %(planned)d questionnaires prévus.",
    ],
    "%(file)s: %(counter)s problem. Nothing was imported; correct the file and check it again.": [
        "%(file)s : %(counter)s problème. Rien n'a été importé ; corrigez le fichier et vérifiez-le à nouveau.",
        "%(file)s : %(counter)s problèmes. Rien n'a été importé ; corrigez le fichier et vérifiez-le à nouveau.",
    ],
    "%(file)s: %(counter)s row ready to import, no problem found.": [
        "%(file)s : %(counter)s ligne prête à importer, aucun problème trouvé.",
        "%(file)s : %(counter)s lignes prêtes à importer, aucun problème trouvé.",
    ],
}
