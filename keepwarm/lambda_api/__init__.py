"""AWS Lambda's REST API (2015-03-31 and friends) on an ASGI app: it translates, nothing more."""
