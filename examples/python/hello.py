"""Reports whether this invocation is the first one in its environment (a cold start)."""

_first_invocation = True


def handler(event, context):
    global _first_invocation
    cold = _first_invocation
    _first_invocation = False
    return {"message": "hello from keepwarm", "request_id": context.aws_request_id, "cold": cold}
