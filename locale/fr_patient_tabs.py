"""French for the patient pages opened in two windows."""

FR = {
    # templates/patient/review.html
    "Your answers were changed in another window. Check them below and send again.":
        "Vos réponses ont été modifiées dans une autre fenêtre. Vérifiez-les ci-dessous et envoyez-les à nouveau.",
}
FR_PLURAL: dict[str, list[str]] = {}
