"""Streams: an org's log sent to its own SIEM or bucket."""
