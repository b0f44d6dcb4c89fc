"""French for the plausible range of answers (surveys/questionnaires/values.py)."""

FR = {
    "Enter a date between %(earliest)s and %(latest)s.": "Saisissez une date entre le %(earliest)s et le %(latest)s.",
}

FR_PLURAL: dict = {}
