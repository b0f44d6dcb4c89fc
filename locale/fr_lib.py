"""French for the instrument library (lib): surveys/library.py, surveys/admin_library.py and its template."""

FR = {
    # surveys/library.py
    "instrument %(code)s": "instrument %(code)s",
    "is not in the instrument library": "n'est pas dans la bibliothèque d'instruments",
    "is licensed: the library does not hold its text. A study holding a licence defines the items itself, sets "
    "its library instrument to %(code)s and gives its licence reference.":
        "est sous licence : la bibliothèque n'en contient pas le texte. Une étude titulaire d'une licence définit "
        "elle-même les questions, indique %(code)s comme instrument de la bibliothèque et donne sa référence de "
        "licence.",
    "questionnaire %(code)s": "questionnaire %(code)s",
    "the study already has a questionnaire with this code": "l'étude a déjà un questionnaire avec ce code",
    "library instrument": "instrument de la bibliothèque",
    "%(code)s is not in the instrument library (known: %(known)s); leave it empty for a questionnaire of your own":
        "%(code)s n'est pas dans la bibliothèque d'instruments (connus : %(known)s) ; laissez ce champ vide pour "
        "un questionnaire de votre conception",
    "%(title)s is a licensed instrument (licence holder: %(holder)s): enter the study's licence reference before "
    "publishing. Terms: %(url)s":
        "%(title)s est un instrument sous licence (titulaire des droits : %(holder)s) : saisissez la référence de "
        "licence de l'étude avant de publier. Conditions : %(url)s",
    # The questionnaire's library fields (surveys/models/questionnaire.py, surveys/admin.py)
    "Library instrument and licence": "Instrument de la bibliothèque et licence",
    "licence reference": "référence de licence",
    "Licence agreement number or reference, required to publish a licensed instrument.":
        "Numéro ou référence de l'accord de licence, obligatoire pour publier un instrument sous licence.",
    # surveys/admin_library.py
    "instrument": "instrument",
    "Choose a free instrument and one of the studies where you design questionnaires.":
        "Choisissez un instrument libre et l'une des études dont vous concevez les questionnaires.",
    "%(code)s was not added to study %(study)s — %(where)s: %(message)s":
        "%(code)s n'a pas été ajouté à l'étude %(study)s — %(where)s : %(message)s",
    "%(questionnaire)s added as a draft: check it, then publish it.":
        "%(questionnaire)s ajouté comme brouillon : vérifiez-le, puis publiez-le.",
    "Instrument library": "Bibliothèque d'instruments",
    # templates/admin/surveys/library/library.html
    "Validated instruments, shipped with their French and English text, scoring, severity bands and alerts. "
    "Adding one to a study creates a draft questionnaire with the instrument's code; check it, then publish it.":
        "Instruments validés, fournis avec leur texte en français et en anglais, leur cotation, leurs seuils de "
        "sévérité et leurs alertes. L'ajouter à une étude crée un brouillon de questionnaire portant le code de "
        "l'instrument ; vérifiez-le, puis publiez-le.",
    "Free to use": "Libres d'utilisation",
    "scoring": "cotation",
    "licence": "licence",
    "source": "source",
    "add to a study": "ajouter à une étude",
    "Add to study": "Ajouter à l'étude",
    "Only study designers may add an instrument to a study.":
        "Seuls les concepteurs d'une étude peuvent y ajouter un instrument.",
    "Licensed: the study needs a licence": "Sous licence : l'étude doit détenir une licence",
    "The library holds no text of these instruments. A study holding a licence defines the items itself, sets the "
    "questionnaire's library instrument to the code below and enters its licence reference: a questionnaire naming "
    "a licensed instrument cannot be published without one.":
        "La bibliothèque ne contient pas le texte de ces instruments. Une étude titulaire d'une licence définit "
        "elle-même les questions, indique le code ci-dessous comme instrument de la bibliothèque du questionnaire et "
        "saisit sa référence de licence : un questionnaire qui nomme un instrument sous licence ne peut pas être "
        "publié sans elle.",
    "what the study must hold": "ce que l'étude doit détenir",
}

FR_PLURAL = {
    "%(counter)s question": ["%(counter)s question", "%(counter)s questions"],
}
