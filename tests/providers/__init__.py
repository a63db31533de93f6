"""Webhook providers that live in the tests, plugged in through ``WEBHOOK_PROVIDER_MODULES``."""
