"""French for identity shown only through the audited page, and contact data cleaned on the way in."""

FR = {
    # patients/admin.py
    "See who this is (reason asked, recorded)": "Voir qui c'est (motif demandé, enregistré)",
    "New name": "Nouveau nom",
    "New e-mail": "Nouvel e-mail",
    "New phone": "Nouveau téléphone",
    "New date of birth": "Nouvelle date de naissance",
    "Leave blank to keep the current one.": "Laissez vide pour garder la valeur actuelle.",
    "Leave blank to keep the current one (e.g. 06 12 34 56 78).":
        "Laissez vide pour garder la valeur actuelle (par ex. 06 12 34 56 78).",
    "Leave blank to keep the current one (DD/MM/YYYY).":
        "Laissez vide pour garder la valeur actuelle (JJ/MM/AAAA).",
    "who this is": "qui c'est",
    # patients/enrolment.py
    "This phone number cannot be enrolled.": "Ce numéro de téléphone ne peut pas être inscrit.",
    "This email address cannot be enrolled.": "Cette adresse e-mail ne peut pas être inscrite.",
}
