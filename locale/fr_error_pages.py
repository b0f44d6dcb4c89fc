"""French for the error pages people see (templates/patient/error.html)."""

FR = {
    "This page has expired": "Cette page a expiré",
    "The page was open for a long time, or your browser blocks cookies for this site.":
        "La page est restée ouverte longtemps, ou votre navigateur bloque les cookies de ce site.",
    "Your earlier answers are saved. Go back, reload the page, and answer this page again.":
        "Vos réponses précédentes sont enregistrées. Revenez en arrière, rechargez la page et répondez "
        "de nouveau à cette page.",
    "Go back and reload the page, then try again.": "Revenez en arrière, rechargez la page, puis réessayez.",
    "Something went wrong": "Un problème est survenu",
    "Something went wrong on our side. It is not your fault.":
        "Un problème est survenu de notre côté. Vous n'y êtes pour rien.",
    "Your earlier answers are saved. Please try again in a few minutes, with the same link.":
        "Vos réponses précédentes sont enregistrées. Merci de réessayer dans quelques minutes, avec le même lien.",
    "Please try again in a few minutes.": "Merci de réessayer dans quelques minutes.",
}

FR_PLURAL: dict = {}
