"""French for sending (h9): the in-flight message status."""

FR = {
    # patients/models.py: Message.Status.SENDING (handed to the provider, answer not recorded yet)
    "Sending": "Envoi en cours",
}
