"""Privacy's settings and requests, over the service: an org's masked field patterns (``settings``) and the erasure
of a data subject (``erasure``). What the store applies on every write is below it: ``activitylog.masking`` and
``activitylog.subjects``."""
