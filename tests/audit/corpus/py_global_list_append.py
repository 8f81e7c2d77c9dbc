"""Keeps every request for 'debugging'."""
RECENT_REQUESTS = []


def lambda_handler(event, context):
    RECENT_REQUESTS.append({"path": event["path"], "body": event.get("body")})
    return {"statusCode": 200}
