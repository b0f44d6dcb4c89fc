"""The REST API for programs (R or Python scripts, data warehouses): pseudonymous reads, exports.

Every request acts as a staff member, through a personal token (surveys/api/tokens.py) or a
signed-in session; what it reaches follows that member's study roles and site scopes
(surveys/rules.py, surveys/staff/selectors.py). Identities are never in this package's reach:
surveys never imports patients. The one resource that needs the identity side (scheduled
messages) is served by patients/messaging/api.py under the same /api/ prefix. How a script uses it:
docs/api.md.
"""
