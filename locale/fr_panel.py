"""French for review panels (panel): invitations, the reviewer's home page, reminders, panel admin."""

FR = {
    # surveys/models/review.py (Panel, PanelMember)
    "language": "langue",
    "review panel": "panel de relecture",
    "review panels": "panels de relecture",
    "panel member": "membre du panel",
    "panel members": "membres du panel",
    "Expert patient": "Patient expert",
    "Practitioner": "Professionnel de santé",
    "invited at": "invité le",
    "accepted at": "accepté le",
    # templates/review/base.html
    "Sign out": "Se déconnecter",
    # templates/review/invitation.html
    "Join the review panel": "Rejoindre le panel de relecture",
    "You are invited to review questionnaires for “%(panel)s” before they are sent to patients.":
        "Vous êtes invité·e à relire des questionnaires pour « %(panel)s » avant leur envoi aux patients.",
    "Choose a password to accept. You will then sign in with your e-mail address and this password.":
        "Choisissez un mot de passe pour accepter. Vous vous connecterez ensuite avec votre adresse e-mail "
        "et ce mot de passe.",
    "Your e-mail address": "Votre adresse e-mail",
    "Type the same password again.": "Saisissez à nouveau le même mot de passe.",
    "Accept and set my password": "Accepter et enregistrer mon mot de passe",
    # templates/review/invitation_invalid.html
    "This link does not work any more": "Ce lien ne fonctionne plus",
    "Invitation links can be used once and only for a limited time. A newer invitation also replaces an older one.":
        "Un lien d’invitation ne sert qu’une fois et pour une durée limitée. Une invitation plus récente "
        "remplace aussi la précédente.",
    "If you have already accepted, sign in with your e-mail address and password. Otherwise, ask the study team "
    "to send you a new invitation.":
        "Si vous avez déjà accepté, connectez-vous avec votre adresse e-mail et votre mot de passe. Sinon, "
        "demandez à l’équipe de l’étude de vous envoyer une nouvelle invitation.",
    "Sign in": "Se connecter",
    # templates/review/home.html
    "Your reviews": "Vos relectures",
    "Open reviews": "Relectures en cours",
    "Closed reviews": "Relectures terminées",
    "Questionnaire:": "Questionnaire :",
    "Deadline:": "Date limite :",
    "Submitted": "Envoyée",
    "Not submitted yet": "Pas encore envoyée",
    "Not submitted": "Non envoyée",
    "No review is waiting for you.": "Aucune relecture ne vous attend.",
    # templates/messages/review/*
    "Invitation to review questionnaires": "Invitation à relire des questionnaires",
    "Hello,": "Bonjour,",
    "You are invited to join the review panel “%(panel)s”. Before questionnaires are sent to patients, the study "
    "team asks people like you whether the questions are clear, relevant and acceptable.":
        "Vous êtes invité·e à rejoindre le panel de relecture « %(panel)s ». Avant d’envoyer des questionnaires "
        "aux patients, l’équipe de l’étude demande à des personnes comme vous si les questions sont claires, "
        "pertinentes et acceptables.",
    "To accept, open this link and choose a password:": "Pour accepter, ouvrez ce lien et choisissez un mot de passe :",
    "If you did not expect this message, you can ignore it.": "Si vous n’attendiez pas ce message, ignorez-le.",
    "Your review of “%(title)s” has not been submitted yet.":
        "Votre relecture de « %(title)s » n’a pas encore été envoyée.",
    "The deadline is %(deadline)s (%(zone)s).": "La date limite est le %(deadline)s (%(zone)s).",
    "Open the review:": "Ouvrir la relecture :",
    "Thank you for your help.": "Merci pour votre aide.",
    # surveys/review_panels.py
    "Enter a valid e-mail address.": "Saisissez une adresse e-mail valide.",
    "Unknown kind of reviewer: %(kind)s.": "Type de relecteur inconnu : %(kind)s.",
    "This address belongs to a staff account; reviewers need their own.":
        "Cette adresse appartient à un compte de l’équipe ; les relecteurs ont besoin de leur propre compte.",
    "This invitation link is not valid any more.": "Ce lien d’invitation n’est plus valide.",
    # surveys/admin_review_panels.py, templates/admin/surveys/panel/invite.html
    "E-mail address of the reviewer": "Adresse e-mail du relecteur",
    "Language of the invitation, the reminders and the reviewer's pages.":
        "Langue de l’invitation, des rappels et des pages du relecteur.",
    "Empty: a site-wide panel (superusers only).": "Vide : un panel pour tout le site (superutilisateurs seulement).",
    "scope": "portée",
    "site-wide": "tout le site",
    "members": "membres",
    "invite": "inviter",
    "Invite a reviewer": "Inviter un relecteur",
    "Invitation sent to %(email)s.": "Invitation envoyée à %(email)s.",
    "Invite a reviewer to %(panel)s": "Inviter un relecteur dans %(panel)s",
    "Send a new invitation (the previous link stops working)":
        "Envoyer une nouvelle invitation (le lien précédent ne fonctionne plus)",
    "The reviewer receives an e-mail with a link to choose a password. Only their e-mail address is recorded; "
    "reviewers never see patient data. Inviting someone again sends a new link and the previous one stops working.":
        "Le relecteur reçoit un e-mail avec un lien pour choisir un mot de passe. Seule son adresse e-mail est "
        "enregistrée ; les relecteurs ne voient jamais les données des patients. Inviter à nouveau quelqu’un "
        "envoie un nouveau lien et le précédent cesse de fonctionner.",
    "Send the invitation": "Envoyer l’invitation",
}

FR_PLURAL = {
    "%(n)s question commented": ["%(n)s question commentée", "%(n)s questions commentées"],
    "The link works once and for %(days)s day.": ["Le lien sert une fois, pendant %(days)s jour.",
                                                  "Le lien sert une fois, pendant %(days)s jours."],
    "Reminder: your review is due in %(days)s day": ["Rappel : votre relecture est attendue dans %(days)s jour",
                                                     "Rappel : votre relecture est attendue dans %(days)s jours"],
    "%(count)d invitation sent.": ["%(count)d invitation envoyée.", "%(count)d invitations envoyées."],
}
