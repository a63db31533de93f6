"""Webhook ingest: Stripe, Square and FedEx events verified, queued, recorded once, redacted.

The path, one module per step:

- ``providers``   the register, and one module per provider: its signature check (Stripe's own library;
                  Square's and FedEx's HMACs), its event identity, what its entries show, how it signs
- ``secrets``     an org's signing secret per provider (SSM Parameter Store, cached by Powertools)
- ``receiver``    ``POST /webhooks/{provider}/{org_id}``: verify, enqueue, answer 200; a refusal
                  is a 400 and a SYSTEM_EVENT WARNING, at most a few per org, provider and minute
- ``rejections``  that quota, and the one summary entry per minute of what it did not record
- ``queue``       the message the receiver enqueues (a body past SQS's 256 KB goes to S3 first)
- ``ingest``      the SQS consumer: Powertools ``BatchProcessor``, each batch written together,
                  every event exactly once (``ActivityService.record_events``: an entry and its event's marker),
                  partial failures retried

What an entry keeps of a request (without signatures, card numbers, CVCs or bank account
numbers) is the core's ``activitylog.redaction``: outgoing deliveries are redacted by it too.
- ``mapping``     a provider event as a WEBHOOK entry: actor, event, entity, status, occurred_at
- ``recovery``    ``POST /recoveries/{provider}``: the events a provider's own API still lists for a
                  window that the log misses (a webhook outage), recorded as their deliveries would have been

The webhook function serves ``receiver.routes()`` (functions/webhooks/app.py); the ingest function
consumes the queue with ``ingest`` (functions/ingest/app.py); the recovery function serves
``recovery`` (functions/recoveries/app.py).
"""
