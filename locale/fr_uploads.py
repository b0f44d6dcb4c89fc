"""French for upload limits and refusals of malformed files (surveys/uploads.py and its callers)."""

FR = {
    # surveys/uploads.py
    "the file is larger than %(size)s": "le fichier dépasse %(size)s",
    "the file is not an .xlsx workbook (not a readable zip archive; truncated?)":
        "le fichier n'est pas un classeur .xlsx (archive zip illisible\u202f; tronquée\u202f?)",
    "the workbook holds %(count)s parts, more than %(cap)s":
        "le classeur contient %(count)s parties, plus que %(cap)s",
    "the workbook expands to %(size)s, more than %(cap)s":
        "le classeur décompressé atteint %(size)s, plus que %(cap)s",
    "the part %(name)s expands %(ratio)s times: refused as a zip bomb":
        "la partie %(name)s se décompresse %(ratio)s fois\u202f: refusée comme bombe de décompression",
    "the workbook expands to more than %(cap)s": "le classeur décompressé dépasse %(cap)s",
    "the part %(name)s declares a DTD (XML entities), which is refused":
        "la partie %(name)s déclare une DTD (entités XML), ce qui est refusé",
    "the workbook is damaged (%(error)s)": "le classeur est endommagé (%(error)s)",
    "the workbook has no sheet": "le classeur n'a aucune feuille",
    "the workbook's XML declares entities or external references, which are refused":
        "le XML du classeur déclare des entités ou des références externes, ce qui est refusé",
    "the file cannot be read as an .xlsx workbook (%(error)s)":
        "le fichier ne peut pas être lu comme un classeur .xlsx (%(error)s)",
    "is not UTF-8 text (first bad byte at line %(line)s, column %(col)s): save it as UTF-8":
        "n'est pas du texte UTF-8 (premier octet invalide ligne %(line)s, colonne %(col)s)\u202f: "
        "enregistrez-le en UTF-8",
    "JSON nested deeper than %(cap)s levels": "JSON imbriqué sur plus de %(cap)s niveaux",
    "JSON parse error - the body is not %(encoding)s text":
        "Erreur d'analyse JSON - le corps n'est pas du texte %(encoding)s",
    "JSON parse error - %(where)s: %(message)s": "Erreur d'analyse JSON - %(where)s\u202f: %(message)s",
    # patients/importing.py
    "The CSV cannot be read: %(error)s": "Le CSV ne peut pas être lu\u202f: %(error)s",
    "The file cannot be read as an .xlsx workbook: %(reason)s.":
        "Le fichier ne peut pas être lu comme un classeur .xlsx\u202f: %(reason)s.",
}
