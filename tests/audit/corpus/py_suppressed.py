"""A deliberate, reviewed global (tracks the warm request id for logging) with suppression."""
LAST_REQUEST_ID = None


def handler(event, context):
    global LAST_REQUEST_ID
    LAST_REQUEST_ID = context.aws_request_id  # keepwarm: ignore[KW101]
    return {"ok": True}
