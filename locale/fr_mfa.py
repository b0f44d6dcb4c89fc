"""French for the second-factor requirement on the API and the staff invitation pages."""

FR = {
    # config/mfa.py
    "Activate a second factor (TOTP) on your account before using the API.":
        "Activez un second facteur (TOTP) sur votre compte avant d'utiliser l'API.",
}
FR_PLURAL = {}

FR.update({
    # templates/staff_invites/
    "Set your password": "Choisissez votre mot de passe",
    "Account: %(username)s. Next you will set up your authenticator app.":
        "Compte\u202f: %(username)s. Vous configurerez ensuite votre application d'authentification.",
    "Set the password": "Enregistrer le mot de passe",
    "Invitation link not valid": "Lien d'invitation non valide",
    "This invitation link was already used or has expired. Ask your study administrator for a new invitation link.":
        "Ce lien d'invitation a déjà servi ou a expiré. Demandez un nouveau lien d'invitation à l'administrateur de l'étude.",
    "Ask for a new invitation link": "Demandez un nouveau lien d'invitation",
    "Your account needs an authenticator app, and it can only be set up from the invitation link sent to your "
    "e-mail address. Ask your study administrator for a new invitation link.":
        "Votre compte demande une application d'authentification, qui ne peut être configurée que depuis le lien "
        "d'invitation envoyé à votre adresse e-mail. Demandez un nouveau lien d'invitation à l'administrateur de l'étude.",
    "Sign out": "Se déconnecter",
})

FR.update({
    # config/staff_invites.py, surveys/admin_accounts.py
    "Ressenti: set up your account": "Ressenti\u202f: configurez votre compte",
    "Open this link to set your password and your authenticator app (valid %(hours)d hours, once): %(link)s":
        "Ouvrez ce lien pour choisir votre mot de passe et configurer votre application d'authentification "
        "(valable %(hours)d heures, une seule fois)\u202f: %(link)s",
    "E-mail a staff invitation link (password, then authenticator app)":
        "Envoyer par e-mail un lien d'invitation (mot de passe, puis application d'authentification)",
})
FR_PLURAL.update({
    "%(count)d invitation sent.": ["%(count)d invitation envoyée.", "%(count)d invitations envoyées."],
    "%(count)d account skipped (inactive, not staff or no e-mail).":
        ["%(count)d compte ignoré (inactif, hors équipe ou sans e-mail).",
         "%(count)d comptes ignorés (inactifs, hors équipe ou sans e-mail)."],
})
