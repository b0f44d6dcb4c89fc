"""French for the second-factor requirement on the API."""

FR = {
    # config/mfa.py
    "Activate a second factor (TOTP) on your account before using the API.":
        "Activez un second facteur (TOTP) sur votre compte avant d'utiliser l'API.",
}
FR_PLURAL = {}
