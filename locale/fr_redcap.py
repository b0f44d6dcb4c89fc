"""French for the REDCap data dictionary import and export (surveys/redcap.py)."""

FR = {
    # surveys/imports.py: the format's name in the import and export lists
    "REDCap data dictionary (CSV)": "Dictionnaire de données REDCap (CSV)",
    # where a problem is
    "file": "fichier",
    "line %(line)s": "ligne %(line)s",
    "line %(line)s, variable %(name)s": "ligne %(line)s, variable %(name)s",
    "line 1, column %(n)s": "ligne 1, colonne %(n)s",
    "form %(form)s": "formulaire %(form)s",
    "the study is not in %(lang)s": "l'étude n'est pas en %(lang)s",
    # the file and its header
    "is empty": "est vide",
    'is not UTF-8 text: save it as "CSV UTF-8"': "n'est pas un texte UTF-8 : enregistrez-le au format « CSV UTF-8 »",
    "the CSV cannot be read: %(error)s": "le CSV est illisible : %(error)s",
    "%(found)s cells where the header has %(expected)s (a comma outside quotes?)":
        "%(found)s cellules alors que l'en-tête en a %(expected)s (une virgule hors des guillemets ?)",
    "expected the column %(expected)s, found %(found)s": "colonne %(expected)s attendue, %(found)s trouvée",
    "an empty cell": "une cellule vide",
    "the column %(expected)s is missing": "la colonne %(expected)s manque",
    "column %(name)s is not a data dictionary column: ignored":
        "la colonne %(name)s n'est pas une colonne du dictionnaire de données : ignorée",
    # rows and forms
    "the variable name is empty": "le nom de variable est vide",
    "variable %(name)s is already on line %(line)s": "la variable %(name)s figure déjà ligne %(line)s",
    "the form name is empty": "le nom de formulaire est vide",
    "form name %(form)s does not fit a questionnaire code: lower-case letters, digits or _, 40 characters at most":
        "le nom de formulaire %(form)s ne convient pas comme code de questionnaire : minuscules, chiffres ou _, "
        "40 caractères au plus",
    "the rows of form %(form)s are not together (it started on line %(line)s)":
        "les lignes du formulaire %(form)s ne se suivent pas (il commençait ligne %(line)s)",
    "unknown field type %(type)s": "type de champ inconnu : %(type)s",
    "(empty)": "(vide)",
    "the variable name does not fit an item code: a letter, then letters, digits or _, 40 characters at most":
        "le nom de variable ne convient pas comme code d'item : une lettre, puis des lettres, chiffres ou _, "
        "40 caractères au plus",
    "the field label is empty": "le libellé du champ est vide",
    "no question is left to import: the instrument is left out":
        "il ne reste aucune question à importer : l'instrument est écarté",
    "no instrument has a question left to import": "aucun instrument n'a de question à importer",
    # fields left out
    "the record ID is left out: the participant's pseudonym plays its role":
        "l'identifiant d'enregistrement est écarté : le pseudonyme du participant en tient lieu",
    "marked as an identifier: left out, since identities are kept in the patient register, never in questionnaires":
        "marqué comme identifiant : écarté, car les identités sont gardées dans le registre des patients, jamais dans "
        "les questionnaires",
    "holds an identity (validation %(validation)s) though not marked as an identifier: left out, since identities are "
    "kept in the patient register":
        "contient une identité (validation %(validation)s) sans être marqué comme identifiant : écarté, car les "
        "identités sont gardées dans le registre des patients",
    "looks like an identity though not marked as an identifier: left out, since identities are kept in the patient "
    "register":
        "ressemble à une identité sans être marqué comme identifiant : écarté, car les identités sont gardées dans le "
        "registre des patients",
    "a signature has no equivalent in Ressenti: left out": "une signature n'a pas d'équivalent dans Ressenti : écartée",
    "a file upload has no equivalent in Ressenti: left out":
        "un dépôt de fichier n'a pas d'équivalent dans Ressenti : écarté",
    "a list filled by an SQL query has no equivalent in Ressenti: left out":
        "une liste remplie par une requête SQL n'a pas d'équivalent dans Ressenti : écartée",
    # texts and field details
    "the HTML formatting of the label was removed": "la mise en forme HTML du libellé a été retirée",
    "the HTML formatting of the field note was removed": "la mise en forme HTML de la note du champ a été retirée",
    "the HTML formatting of the section header was removed": "la mise en forme HTML de l'en-tête de section a été retirée",
    "the label pipes another field's answer, which Ressenti does not do: it shows the brackets as written":
        "le libellé reprend la réponse d'un autre champ, ce que Ressenti ne fait pas : les crochets s'affichent tels "
        "quels",
    "the field note pipes another field's answer, which Ressenti does not do: it shows the brackets as written":
        "la note du champ reprend la réponse d'un autre champ, ce que Ressenti ne fait pas : les crochets s'affichent "
        "tels quels",
    "the section header pipes another field's answer, which Ressenti does not do: it shows the brackets as written":
        "l'en-tête de section reprend la réponse d'un autre champ, ce que Ressenti ne fait pas : les crochets "
        "s'affichent tels quels",
    "the section header has no text left once its HTML is removed: the page is titled %(title)s":
        "l'en-tête de section n'a plus de texte une fois le HTML retiré : la page s'intitule %(title)s",
    "a date and time: Ressenti asks the date only": "une date et une heure : Ressenti ne demande que la date",
    "the format %(validation)s is not checked: the answer is a short text":
        "le format %(validation)s n'est pas vérifié : la réponse est un texte court",
    "the minimum and maximum of this field are kept but not checked":
        "le minimum et le maximum de ce champ sont gardés mais pas vérifiés",
    "the minimum %(value)s is not a whole number": "le minimum %(value)s n'est pas un nombre entier",
    "the maximum %(value)s is not a whole number": "le maximum %(value)s n'est pas un nombre entier",
    "the minimum %(value)s is not a number": "le minimum %(value)s n'est pas un nombre",
    "the maximum %(value)s is not a number": "le maximum %(value)s n'est pas un nombre",
    "matrix ranking (each choice used once in the matrix) is not enforced":
        "le classement de la matrice (chaque choix une seule fois dans la matrice) n'est pas imposé",
    "the action tags %(tags)s are kept with the field but not applied":
        "les balises d'action %(tags)s sont gardées avec le champ mais pas appliquées",
    'a %(type)s field needs choices written "code, label | code, label"':
        "un champ %(type)s a besoin de choix écrits « code, libellé | code, libellé »",
    'the choice %(choice)s has no code: write "code, label"': "le choix %(choice)s n'a pas de code : écrivez « code, libellé »",
    "the choice code %(code)s does not fit an option code: letters, digits or _, optionally after a minus sign":
        "le code de choix %(code)s ne convient pas comme code d'option : lettres, chiffres ou _, éventuellement après "
        "un signe moins",
    "the choice code %(code)s is used twice": "le code de choix %(code)s est utilisé deux fois",
    # branching logic
    "branching logic %(logic)s cannot be translated: %(reason)s":
        "la logique de branchement %(logic)s ne peut pas être traduite : %(reason)s",
    "cannot read %(part)s": "lecture impossible de %(part)s",
    "the end": "la fin",
    "%(ref)s%(next)s refers to another event or to a repeating instance":
        "%(ref)s%(next)s désigne un autre événement ou une instance répétée",
    "%(ref)s is a smart variable or a piping option, which Ressenti does not have":
        "%(ref)s est une variable intelligente ou une option de reprise, que Ressenti n'a pas",
    "the function %(name)s() has no equivalent": "la fonction %(name)s() n'a pas d'équivalent",
    "compares two fields, which a display condition cannot do":
        "compare deux champs, ce qu'une condition d'affichage ne sait pas faire",
    "compares two values without a field": "compare deux valeurs sans champ",
    'mixes "and" with "or", which display conditions cannot nest':
        "mêle « and » et « or », que les conditions d'affichage ne savent pas imbriquer",
    "%(name)s is not a field of this dictionary": "%(name)s n'est pas un champ de ce dictionnaire",
    "%(name)s is in another instrument (%(form)s)": "%(name)s est dans un autre instrument (%(form)s)",
    "%(name)s is left out of the import (see its warning)": "%(name)s est écarté de l'import (voir son avertissement)",
    "%(name)s is a calculated field, which becomes a score, not a question":
        "%(name)s est un champ calculé, qui devient un score et non une question",
    "%(name)s does not come before this field": "%(name)s ne vient pas avant ce champ",
    "%(name)s is a descriptive text, not a question": "%(name)s est un texte descriptif, pas une question",
    '[%(name)s] %(op)s %(value)s needs several options joined by "or" inside an "and"':
        "[%(name)s] %(op)s %(value)s demande plusieurs options reliées par « or » à l'intérieur d'un « and »",
    "[%(name)s(%(code)s)] is the checkbox form, but %(name)s is not a checkbox":
        "[%(name)s(%(code)s)] est la forme des cases à cocher, mais %(name)s n'en est pas une",
    "%(name)s has no choice %(code)s": "%(name)s n'a pas de choix %(code)s",
    "a checkbox choice is compared with '1' (ticked) or '0' (not ticked)":
        "un choix de case à cocher se compare à '1' (coché) ou '0' (non coché)",
    '"%(name)s(%(code)s) not ticked" holds only once %(name)s is answered (REDCap also counts it when %(name)s is '
    'blank)':
        "« %(name)s(%(code)s) non coché » ne vaut qu'une fois %(name)s répondu (REDCap le compte aussi quand "
        "%(name)s est vide)",
    '"%(name)s is not %(code)s" holds only once %(name)s is answered (REDCap also counts it when %(name)s is blank)':
        "« %(name)s différent de %(code)s » ne vaut qu'une fois %(name)s répondu (REDCap le compte aussi quand "
        "%(name)s est vide)",
    "only = and <> compare with an empty value": "seuls = et <> se comparent à une valeur vide",
    "a checkbox is tested choice by choice: [%(name)s(code)] = '1'":
        "une case à cocher se teste choix par choix : [%(name)s(code)] = '1'",
    "%(op)s compares numbers, but the choices of %(name)s are not all numbers":
        "%(op)s compare des nombres, mais les choix de %(name)s ne sont pas tous des nombres",
    "no choice of %(name)s is %(op)s %(value)s": "aucun choix de %(name)s n'est %(op)s %(value)s",
    "a yes/no field is compared with '1' (yes) or '0' (no)": "un champ oui/non se compare à '1' (oui) ou '0' (non)",
    "%(name)s is a number, but %(value)s is not": "%(name)s est un nombre, mais %(value)s n'en est pas un",
    "a date is compared with a date written YYYY-MM-DD, not %(value)s":
        "une date se compare à une date écrite AAAA-MM-JJ, pas à %(value)s",
    "%(op)s needs a number or a date, but %(name)s is a text":
        "%(op)s demande un nombre ou une date, mais %(name)s est un texte",
    # calculations
    "the calculation %(calc)s is left out: %(reason)s (Ressenti computes sums and means of answers)":
        "le calcul %(calc)s est écarté : %(reason)s (Ressenti calcule des sommes et des moyennes de réponses)",
    "it has no equation": "il n'a pas d'équation",
    "its name is longer than a score name may be (34 characters)":
        "son nom est plus long qu'un nom de score ne peut l'être (34 caractères)",
    "round() takes a value and a whole number of decimal places":
        "round() prend une valeur et un nombre entier de décimales",
    "it multiplies fields together": "il multiplie des champs entre eux",
    "it counts %(name)s twice": "il compte %(name)s deux fois",
    "REDCap's sum() skips blank fields; this score needs every item answered, since a missing answer is never counted "
    "as 0":
        "sum() de REDCap ignore les champs vides ; ce score demande toutes les réponses, car une réponse manquante "
        "n'est jamais comptée 0",
    "it divides by a number other than the count of its fields":
        "il divise par un autre nombre que celui de ses champs",
    "it is not a sum or a mean of fields": "ce n'est ni une somme ni une moyenne de champs",
    "[%(name)s(%(code)s)] counts a checkbox choice": "[%(name)s(%(code)s)] compte un choix de case à cocher",
    "%(name)s is not a field of this instrument": "%(name)s n'est pas un champ de cet instrument",
    "the calculated field %(name)s comes later or is left out": "le champ calculé %(name)s vient après ou est écarté",
    "%(name)s is left out of the import": "%(name)s est écarté de l'import",
    "the choices of %(name)s are not all numbers": "les choix de %(name)s ne sont pas tous des nombres",
    "%(name)s has no numeric value": "%(name)s n'a pas de valeur numérique",
    "it averages other calculated fields": "il fait la moyenne d'autres champs calculés",
    # languages
    "a REDCap dictionary holds one language: its texts are read as %(base)s; add the %(others)s translations before "
    "publishing":
        "un dictionnaire REDCap ne contient qu'une langue : ses textes sont lus en %(base)s ; ajoutez les traductions "
        "en %(others)s avant de publier",
}
