"""French for FHIR import and export (surveys/fhir_io.py, surveys/admin_imports.py, templates/admin/surveys/imports)."""

FR = {
    # admin: imported drafts, import pages
    "Imported (%(format)s): the items come from the imported definition, kept whole, not from editable rows. "
    "Preview it as patients will see it; to edit the items, copy them into editable rows.":
        "Importé (%(format)s) : les items viennent de la définition importée, conservée telle quelle, et non de "
        "lignes modifiables. Prévisualisez-la comme les patients la verront ; pour modifier les items, copiez-les "
        "en lignes modifiables.",
    "Leave empty to take it from the file (FHIR: name or id). For a file with one questionnaire only.":
        "Laissez vide pour le prendre dans le fichier (FHIR : name ou id). Seulement pour un fichier à un seul "
        "questionnaire.",
    "When the file does not say (FHIR: its language element; English when absent).":
        "Quand le fichier ne l'indique pas (FHIR : son élément language ; anglais s'il est absent).",
    "Import responses (FHIR)": "Importer des réponses (FHIR)",
    "%(created)s responses imported into %(timepoint)s, %(unchanged)s already there.":
        "%(created)s réponses importées dans %(timepoint)s, %(unchanged)s déjà présentes.",
    "The draft's items are now editable rows.": "Les items du brouillon sont désormais des lignes modifiables.",
    "Copy the imported definition into editable rows?": "Copier la définition importée en lignes modifiables ?",
    "Problems (nothing is imported until there are none)": "Problèmes (rien n'est importé tant qu'il en reste)",
    "Where": "Où",
    "warnings": "avertissements",
    "Found in the file, for study %(study)s": "Trouvé dans le fichier, pour l'étude %(study)s",
    "The checked file could not be read back (older than an hour, or changed): check it again.":
        "Le fichier vérifié n'a pas pu être relu (vérifié il y a plus d'une heure, ou modifié) : vérifiez-le à "
        "nouveau.",
    "Each questionnaire becomes a draft of the study, kept as the file defines it; preview it as patients see it, "
    "then publish it. Nothing is imported until you confirm.":
        "Chaque questionnaire devient un brouillon de l'étude, conservé tel que le fichier le définit ; "
        "prévisualisez-le comme les patients le verront, puis publiez-le. Rien n'est importé avant votre "
        "confirmation.",
    "The imported definition cannot become editable rows without losing what is listed below, so it stays as "
    "imported. Edit the file and import it again, or keep the draft as it is: it can be previewed and published "
    "unchanged.":
        "La définition importée ne peut pas devenir des lignes modifiables sans perdre ce qui est listé ci-dessous : "
        "elle reste telle qu'importée. Modifiez le fichier et importez-le à nouveau, ou gardez le brouillon tel "
        "quel : il peut être prévisualisé et publié sans changement.",
    "The items of %(questionnaire)s come from its imported definition. Copying it into rows (sections, items, "
    "answer options, display conditions) lets you edit them here; codes stay as they are. Nothing of the "
    "definition is lost.":
        "Les items de %(questionnaire)s viennent de sa définition importée. La copier en lignes (sections, items, "
        "options de réponse, conditions d'affichage) permet de les modifier ici ; les codes restent les mêmes. "
        "Rien de la définition n'est perdu.",
    "Each response completes its participant’s assignment for this timepoint, with its scores computed; every "
    "response is imported, or none.":
        "Chaque réponse complète le questionnaire attendu du participant à ce temps de mesure, avec ses scores "
        "calculés ; toutes les réponses sont importées, ou aucune.",
    "FHIR R4 QuestionnaireResponses, one JSON object per line (NDJSON, as export_responses_fhir writes) or in a "
    "Bundle. Each names its questionnaire by the canonical URL of the timepoint's questionnaire and its "
    "participant by pseudonym (subject.identifier, system urn:ressenti:study:&lt;code&gt;:pseudonym); "
    "participants must already exist. A response imported again with the same answers changes nothing.":
        "Des QuestionnaireResponse FHIR R4, un objet JSON par ligne (NDJSON, comme les écrit "
        "export_responses_fhir) ou dans un Bundle. Chacune nomme son questionnaire par l'URL canonique du "
        "questionnaire du temps de mesure et son participant par pseudonyme (subject.identifier, système "
        "urn:ressenti:study:&lt;code&gt;:pseudonym) ; les participants doivent déjà exister. Une réponse importée "
        "à nouveau avec les mêmes réponses ne change rien.",
    # surveys/imports.py (shared messages about files)
    "is not UTF-8 text": "n'est pas du texte UTF-8",
    "invalid JSON: %(msg)s": "JSON invalide : %(msg)s",
    "a JSON object is expected": "un objet JSON est attendu",
    "unknown format %(format)s": "format inconnu %(format)s",
    # questionnaire import: warnings and problems (FHIR element names stay in English)
    "variable names %(names)s are not valid FHIR R4 names (letters, digits, - and . only): renamed %(new)s, with "
    "their uses in expressions":
        "les noms de variables %(names)s ne sont pas des noms FHIR R4 valides (lettres, chiffres, - et . "
        "seulement) : renommés %(new)s, ainsi que leurs usages dans les expressions",
    "variable %(name)s is kept but not computed here": "la variable %(name)s est conservée mais pas calculée ici",
    "type %(type)s: answers of this type cannot be collected here (supported: %(known)s)":
        "type %(type)s : les réponses de ce type ne peuvent pas être recueillies ici (acceptés : %(known)s)",
    "extension item-type: unknown item type %(type)s": "extension item-type : type d'item inconnu %(type)s",
    "enableWhenExpression: display conditions written as expressions cannot be evaluated here; use enableWhen":
        "enableWhenExpression : les conditions d'affichage écrites en expressions ne peuvent pas être évaluées "
        "ici ; utilisez enableWhen",
    "repeats: a group answered several times cannot be represented":
        "repeats : un groupe répondu plusieurs fois ne peut pas être représenté",
    "group without items: it shows nothing": "groupe sans items : il n'affiche rien",
    "calculatedExpression: calculated items cannot be computed here; the item is kept but not shown to patients. "
    "Express the score as a scoring rule (docs/scoring.md)":
        "calculatedExpression : les items calculés ne peuvent pas être calculés ici ; l'item est conservé mais "
        "n'est pas montré aux patients. Exprimez le score par une règle de score (docs/scoring.md)",
    "readOnly: kept, but read-only items are not shown to patients":
        "readOnly : conservé, mais les items en lecture seule ne sont pas montrés aux patients",
    "initialExpression: kept but not evaluated": "initialExpression : conservée mais non évaluée",
    "initial: the initial answer is kept but not filled in for patients":
        "initial : la réponse initiale est conservée mais n'est pas pré-remplie pour les patients",
    "item: questions nested under a %(type)s item cannot be shown; put them in a group":
        "item : des questions imbriquées sous un item %(type)s ne peuvent pas être affichées ; placez-les dans un "
        "groupe",
    "repeats: several answers to a %(type)s item cannot be collected (only a choice may have several answers)":
        "repeats : plusieurs réponses à un item %(type)s ne peuvent pas être recueillies (seul un choix peut avoir "
        "plusieurs réponses)",
    "answerOption: options on a %(type)s item cannot be shown; use a choice item":
        "answerOption : des options sur un item %(type)s ne peuvent pas être affichées ; utilisez un item choice",
    "open-choice: offered as a closed choice; answers typed in are not collected":
        "open-choice : proposé comme un choix fermé ; les réponses saisies ne sont pas recueillies",
    "answerExpression: options computed by an expression cannot be listed here":
        "answerExpression : des options calculées par une expression ne peuvent pas être listées ici",
    "answerValueSet: options from a value set (%(vs)s) cannot be listed here; give them as answerOption":
        "answerValueSet : les options d'un jeu de valeurs (%(vs)s) ne peuvent pas être listées ici ; donnez-les en "
        "answerOption",
    "answerValueSet is kept, but only the answerOption list is offered":
        "answerValueSet est conservé, mais seule la liste answerOption est proposée",
    "answerOption[%(n)s]: only valueCoding, valueString, valueInteger or valueDate options can be offered":
        "answerOption[%(n)s] : seules des options valueCoding, valueString, valueInteger ou valueDate peuvent être "
        "proposées",
    "answerOption[%(n)s]: the option has no code": "answerOption[%(n)s] : l'option n'a pas de code",
    "answerOption[%(n)s]: option code %(code)s is used more than once":
        "answerOption[%(n)s] : le code d'option %(code)s est utilisé plusieurs fois",
    "answerOption[%(n)s]: the score (%(url)s) is not a number":
        "answerOption[%(n)s] : le score (%(url)s) n'est pas un nombre",
    "answerOption: a choice item needs its answer options":
        "answerOption : un item à choix a besoin de ses options de réponse",
    "initialSelected: kept, but no option is ticked in advance for patients":
        "initialSelected : conservé, mais aucune option n'est cochée d'avance pour les patients",
    "%(ext)s: %(value)s is not a number": "%(ext)s : %(value)s n'est pas un nombre",
    "%(ext)s: kept, but limits are checked only on number items":
        "%(ext)s : conservé, mais les limites ne sont vérifiées que sur les items numériques",
    "maxLength: kept, but it applies only to text answers":
        "maxLength : conservé, mais il ne s'applique qu'aux réponses en texte",
    "enableBehavior: %(value)s is not all or any": "enableBehavior : %(value)s n'est ni all ni any",
    "%(where)s: operator %(op)s is unknown": "%(where)s : l'opérateur %(op)s est inconnu",
    "%(where)s: refers to %(code)s, which is not an item before this one":
        "%(where)s : renvoie à %(code)s, qui n'est pas un item placé avant celui-ci",
    "%(where)s: depends on %(code)s, which is calculated or read-only and never answered here":
        "%(where)s : dépend de %(code)s, calculé ou en lecture seule, auquel on ne répond jamais ici",
    "%(where)s: exists needs answerBoolean": "%(where)s : exists demande answerBoolean",
    "%(where)s: %(code)s is not a question": "%(where)s : %(code)s n'est pas une question",
    "%(where)s: %(key)s cannot be compared with the answer to %(code)s (%(type)s)":
        "%(where)s : %(key)s ne peut pas être comparé à la réponse à %(code)s (%(type)s)",
    "%(where)s: operator %(op)s cannot compare choices": "%(where)s : l'opérateur %(op)s ne compare pas des choix",
    "%(where)s: %(code)s has no option %(answer)s": "%(where)s : %(code)s n'a pas d'option %(answer)s",
    "%(where)s: operator %(op)s cannot compare %(type)s answers":
        "%(where)s : l'opérateur %(op)s ne compare pas des réponses %(type)s",
    "%(count)s texts have no %(lang)s version; the study asks for %(lang)s, so publishing will need them (add "
    "translations to the file, or copy the draft into editable rows)":
        "%(count)s textes n'ont pas de version %(lang)s ; l'étude demande %(lang)s, la publication en aura donc "
        "besoin (ajoutez les traductions au fichier, ou copiez le brouillon en lignes modifiables)",
    "language %(lang)s: texts can be in %(known)s only; choose the language of the file's texts":
        "langue %(lang)s : les textes ne peuvent être qu'en %(known)s ; choisissez la langue des textes du fichier",
    "an item has no linkId": "un item n'a pas de linkId",
    "linkId %(code)s is used more than once (linkIds must be unique)":
        "le linkId %(code)s est utilisé plusieurs fois (les linkId doivent être uniques)",
    "item: the questionnaire has no items": "item : le questionnaire n'a aucun item",
    "entry %(n)s": "entrée %(n)s",
    "line %(n)s": "ligne %(n)s",
    "resourceType is %(type)s; only Questionnaire entries can be imported":
        "resourceType vaut %(type)s ; seules des entrées Questionnaire peuvent être importées",
    "resourceType": "resourceType",
    "is %(type)s; a Questionnaire or a Bundle of Questionnaires is expected":
        "vaut %(type)s ; un Questionnaire ou un Bundle de Questionnaires est attendu",
    "a code can be given only for a file with one questionnaire":
        "un code ne peut être donné que pour un fichier à un seul questionnaire",
    "%(code)s: use letters, digits, - or _ (40 at most)":
        "%(code)s : utilisez des lettres, chiffres, - ou _ (40 au plus)",
    # response import
    "%(value)s is not one of the options": "%(value)s ne fait pas partie des options",
    "option %(code)s comes from %(theirs)s, not %(ours)s": "l'option %(code)s vient de %(theirs)s, pas de %(ours)s",
    "a yes/no answer (valueBoolean) is expected": "une réponse oui/non (valueBoolean) est attendue",
    "a number is expected": "un nombre est attendu",
    "%(value)s is not a whole number": "%(value)s n'est pas un nombre entier",
    "%(value)s is outside %(low)s–%(high)s": "%(value)s est hors de %(low)s–%(high)s",
    "a full date (valueDate, YYYY-MM-DD) is expected": "une date complète (valueDate, AAAA-MM-JJ) est attendue",
    "a text answer (valueString) is expected": "une réponse en texte (valueString) est attendue",
    "the text is longer than %(n)s characters": "le texte dépasse %(n)s caractères",
    "this item takes no answer": "cet item ne prend pas de réponse",
    "resourceType is %(type)s; a QuestionnaireResponse is expected":
        "resourceType vaut %(type)s ; une QuestionnaireResponse est attendue",
    "status %(status)s: only completed responses can be imported":
        "statut %(status)s : seules des réponses complètes peuvent être importées",
    "questionnaire %(url)s: the timepoint %(tp)s asks %(ours)s":
        "questionnaire %(url)s : le temps de mesure %(tp)s pose %(ours)s",
    "questionnaire version %(version)s: the timepoint %(tp)s uses version %(ours)s":
        "version %(version)s du questionnaire : le temps de mesure %(tp)s utilise la version %(ours)s",
    "authored: the date and time of the answers is needed (with a time zone)":
        "authored : la date et l'heure des réponses sont nécessaires (avec un fuseau horaire)",
    "authored: give the time zone of %(value)s": "authored : indiquez le fuseau horaire de %(value)s",
    "answered, but its display conditions hide it for these answers":
        "répondu, mais ses conditions d'affichage le masquent pour ces réponses",
    "a required question is not answered": "une question obligatoire n'a pas de réponse",
    "subject.identifier: the participant's pseudonym is expected, with system %(system)s":
        "subject.identifier : le pseudonyme du participant est attendu, avec le système %(system)s",
    "no participant %(pseudonym)s in this study (participants are never created by an import)":
        "aucun participant %(pseudonym)s dans cette étude (un import ne crée jamais de participant)",
    "participant %(pseudonym)s has withdrawn": "le participant %(pseudonym)s s'est retiré",
    "identifier %(value)s: expected pseudonym/timepoint/occurrence":
        "identifier %(value)s : pseudonyme/temps de mesure/occurrence attendu",
    "identifier: this response was given at timepoint %(theirs)s, not %(ours)s":
        "identifier : cette réponse a été donnée au temps de mesure %(theirs)s, pas %(ours)s",
    "identifier: occurrence %(n)s does not exist (the timepoint has %(count)s)":
        "identifier : l'occurrence %(n)s n'existe pas (le temps de mesure en a %(count)s)",
    "linkId %(code)s is not in the questionnaire": "le linkId %(code)s n'est pas dans le questionnaire",
    "answered twice": "répondu deux fois",
    "answers to this calculated or read-only item are not imported: scores come from the scoring rules":
        "les réponses à cet item calculé ou en lecture seule ne sont pas importées : les scores viennent des "
        "règles de score",
    "a %(type)s takes no answer": "un %(type)s ne prend pas de réponse",
    "several answers to a question that takes one": "plusieurs réponses à une question qui n'en prend qu'une",
    "%(tp)s is not a timepoint of %(study)s": "%(tp)s n'est pas un temps de mesure de %(study)s",
    "no QuestionnaireResponse found": "aucune QuestionnaireResponse trouvée",
    "%(pseudonym)s, occurrence %(n)s, is already answered at %(other)s of this file":
        "%(pseudonym)s, occurrence %(n)s, a déjà une réponse en %(other)s de ce fichier",
    "%(pseudonym)s has a response in progress for this timepoint; it is left to the participant":
        "%(pseudonym)s a une réponse en cours pour ce temps de mesure ; elle est laissée au participant",
    "%(pseudonym)s already has a completed response for this timepoint, with other answers; nothing is replaced":
        "%(pseudonym)s a déjà une réponse complète pour ce temps de mesure, avec d'autres réponses ; rien n'est "
        "remplacé",
    # copy into rows: what would be lost
    "extension %(url)s": "extension %(url)s",
    "display control %(code)s": "contrôle d'affichage %(code)s",
    "texts in %(lang)s": "textes en %(lang)s",
    "element %(key)s": "élément %(key)s",
    "canonical url %(url)s (responses exported later would name ours)":
        "url canonique %(url)s (les réponses exportées ensuite nommeraient la nôtre)",
    "code %(code)s: a row code is a letter, then letters, digits or _ (40 at most)":
        "code %(code)s : un code de ligne est une lettre, puis des lettres, chiffres ou _ (40 au plus)",
    "a group inside a group": "un groupe dans un groupe",
    "%(key)s on a section": "%(key)s sur une section",
    "answers typed in (open-choice)": "réponses saisies (open-choice)",
    "maxLength on a %(type)s item": "maxLength sur un item %(type)s",
    "%(ext)s %(value)s": "%(ext)s %(value)s",
    "items nested under a question": "des items imbriqués sous une question",
    "help text %(code)s as written": "le texte d'aide %(code)s tel qu'écrit",
    "%(where)s: %(keys)s": "%(where)s : %(keys)s",
    "%(where)s: option code %(code)s (letters, digits or _, 40 at most)":
        "%(where)s : code d'option %(code)s (lettres, chiffres ou _, 40 au plus)",
    "%(where)s: a label longer than 300 characters": "%(where)s : un libellé de plus de 300 caractères",
    "%(where)s: extension %(url)s": "%(where)s : extension %(url)s",
    "%(where)s: two different scores (ordinalValue and itemWeight)":
        "%(where)s : deux scores différents (ordinalValue et itemWeight)",
    "%(where)s: score %(value)s": "%(where)s : score %(value)s",
    "%(where)s: %(keys)s of the answer": "%(where)s : %(keys)s de la réponse",
    "%(where)s: too long for a condition row": "%(where)s : trop long pour une ligne de condition",
    "its place after a section (items outside sections come first)":
        "sa place après une section (les items hors section viennent en premier)",
    # admin forms and pages (may exist elsewhere too; same French)
    "Import a questionnaire": "Importer un questionnaire",
    "Questionnaire code": "Code du questionnaire",
    "Language of the texts": "Langue des textes",
    "as the file says": "celle du fichier",
    "Format": "Format",
    "FHIR R4 QuestionnaireResponses (NDJSON or a Bundle in JSON)":
        "QuestionnaireResponse FHIR R4 (NDJSON ou un Bundle en JSON)",
    "The file is larger than %(size)s: import it with the management command instead.":
        "Le fichier dépasse %(size)s : importez-le avec la commande de gestion.",
    "Copy into editable rows": "Copier en lignes modifiables",
    "What would be lost": "Ce qui serait perdu",
    "Yes, copy into editable rows": "Oui, copier en lignes modifiables",
    "Or take a validated instrument from the library": "Ou prenez un instrument validé dans la bibliothèque",
    "What the file holds": "Ce que contient le fichier",
    "Check a file": "Vérifier un fichier",
    "questions": "questions",
    "Items": "Items",
    "%(file)s, for timepoint %(timepoint)s of %(study)s": "%(file)s, pour le temps de mesure %(timepoint)s de %(study)s",
}

FR_PLURAL = {
    "Imported %(count)d questionnaire as a draft: %(codes)s.": [
        "%(count)d questionnaire importé comme brouillon : %(codes)s.",
        "%(count)d questionnaires importés comme brouillons : %(codes)s.",
    ],
    "%(counter)s already imported, unchanged": [
        "%(counter)s déjà importée, inchangée",
        "%(counter)s déjà importées, inchangées",
    ],
    "%(counter)s response in the file": [
        "%(counter)s réponse dans le fichier",
        "%(counter)s réponses dans le fichier",
    ],
    "%(counter)s to import": ["%(counter)s à importer", "%(counter)s à importer"],
    "%(file)s: %(counter)s problem. Nothing was imported.": [
        "%(file)s : %(counter)s problème. Rien n'a été importé.",
        "%(file)s : %(counter)s problèmes. Rien n'a été importé.",
    ],
}
