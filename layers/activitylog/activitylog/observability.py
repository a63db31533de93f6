"""Powertools Logger (JSON, correlation id), Metrics (EMF) and Tracer, one instance each per process."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="activity-log")
metrics = Metrics(namespace="ActivityLog", service="activity-log")
tracer = Tracer(service="activity-log")
