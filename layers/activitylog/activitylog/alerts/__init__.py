"""Alerts: an org member's saved filter, told by email or an HTTPS webhook when new entries match it."""
