"""The alerts' notifications: each delayed message names an alert's window, claimed once at its due time and told
by email or to the alert's URL (activitylog/alerts/windows.py). A failed send fails its message, which comes back
and sends the same window again.

Its role reads the alerts and their windows, updates the windows, reads the alerts' signing secrets and sends email.
"""

from activitylog.alerts.windows import handle_messages
from activitylog.wiring import SQS, container, entrypoint

lambda_handler = entrypoint(SQS, lambda event, context: handle_messages(container().notifier, event, context))
