"""French for the patient pages opened in two windows."""

FR = {
    # templates/patient/review.html
    "Your answers were changed in another window. Check them below and send again.":
        "Vos réponses ont été modifiées dans une autre fenêtre. Vérifiez-les ci-dessous et envoyez-les à nouveau.",
    # templates/patient/state.html
    "Your last answers could not be saved: this questionnaire closed on %(day)s.":
        "Vos dernières réponses n'ont pas pu être enregistrées\u202f: ce questionnaire a été clos le %(day)s.",
    "Your last answers could not be saved: this questionnaire is closed.":
        "Vos dernières réponses n'ont pas pu être enregistrées\u202f: ce questionnaire est clos.",
}
FR_PLURAL: dict[str, list[str]] = {}
