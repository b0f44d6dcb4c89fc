"""What the research side tells whoever listens, without knowing who listens.

`surveys` never imports `patients`; the identity side reacts to these signals instead
(receivers in patients/receivers.py, connected in PatientsConfig.ready()). Each one is sent
inside the transaction of the change it announces, so a receiver's writes commit or roll
back with it: a questionnaire is never completed while its reminders stay pending.
Receivers get ids, never objects, and must be idempotent (a retried task sends again).
"""

from django.dispatch import Signal

# A response was submitted; its assignment is now completed. kwargs: assignment_id.
response_completed = Signal()

# assignments_refresh closed the windows of these assignments (status expired). kwargs: assignment_ids.
assignments_expired = Signal()

# A schedule edit moved these planned assignments or created them (surveys/scheduling/replan.py);
# whatever was planned for them and not yet sent must be planned again, as of `now`.
# kwargs: assignment_ids, now.
assignments_replanned = Signal()
