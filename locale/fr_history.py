"""French for read-only history pages and kept accounts."""

FR = {
    # surveys/admin_history.py, templates/admin/history_without_values.html
    "Old versions of this record are not shown.": "Les versions antérieures de cet enregistrement ne sont pas affichées.",
    "Changed fields": "Champs modifiés",
    "Object": "Objet",
    "Date/time": "Date/heure",
    "Changed by": "Modifié par",
    "Change reason": "Motif de la modification",
    "None": "Aucun",
    # surveys/admin_accounts.py
    "Deactivate the selected accounts (they can no longer sign in)":
        "Désactiver les comptes sélectionnés (ils ne pourront plus se connecter)",
}

FR_PLURAL = {
    "%(count)d account deactivated.": ("%(count)d compte désactivé.", "%(count)d comptes désactivés."),
    "%(counter)s entry": ("%(counter)s entrée", "%(counter)s entrées"),
}
