"""An organization's retention policy: how long entries stay hot, how long the archive keeps them.

The policy's values and rules (the classes it may take, the expiry it gives an entry) are the
core's: ``activitylog.retention_policy``, read by the store and the service below this package.

- ``settings``  ``GET``/``PUT /settings/retention``: a change is written together with the
                SYSTEM_EVENT entry that records it (before and after), in one transaction
- ``restamp``   the background job that applies a change to what exists already: every
                entry's expiry, every archive object's retention tag
- ``changes``   how a change reaches it: the streams' fan-out hands the policy item's stream
                records to the ``RetentionChanges`` FIFO queue (a lane per org), which the
                retention function reads

``RetentionSettings(service).change(admin, RetentionChange(hot_days=365))`` is the PUT.
"""
