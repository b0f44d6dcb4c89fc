"""French for the plausible range of answers (surveys/questionnaires/values.py) and of API parameters."""

FR = {
    "Enter a date between %(earliest)s and %(latest)s.": "Saisissez une date entre le %(earliest)s et le %(latest)s.",
    # surveys/api/policies.py
    "Give a value, or leave the parameter out.": "Donnez une valeur, ou omettez le paramètre.",
}

FR_PLURAL: dict = {}
