"""French for uncertain sends: the outbox status and reasons, the message's attempt times."""

FR = {
    # patients/models.py
    "Checking with the provider": "Vérification auprès du prestataire",
    "attempt started at": "tentative commencée à",
    "next attempt at": "prochaine tentative à",
    # patients/outbox.py
    "Outcome unknown, and the provider cannot be asked. Check with the provider before resending.":
        "Résultat inconnu, et le prestataire ne peut pas être interrogé. Vérifiez auprès du prestataire "
        "avant de renvoyer.",
}

FR_PLURAL: dict = {}
