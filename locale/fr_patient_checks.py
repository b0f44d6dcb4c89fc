"""French for the year-of-birth lock page and the locked links shown to the study team."""

FR = {
    # surveys/admin.py
    "pseudonym": "pseudonyme",
    "timepoint": "temps de mesure",
}

FR_PLURAL = {
    # templates/patient/check.html
    "Too many attempts. For your security, please try again in %(minutes)s minute.": [
        "Trop de tentatives. Par sécurité, réessayez dans %(minutes)s minute.",
        "Trop de tentatives. Par sécurité, réessayez dans %(minutes)s minutes.",
    ],
}
