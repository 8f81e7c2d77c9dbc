"""Session tokens remembered per user in a module dict."""
SESSIONS = {}


def handler(event, context):
    user = event["user"]
    SESSIONS[user] = event["token"]
    return {"sessions": len(SESSIONS)}
