"""Open its function URL (``keepwarm serve`` prints it) in a browser or with curl: warm calls
served by one environment count on, a new environment starts at 1. The page's text comes from
a layer (``layers/pages``), found at /opt/python as on Lambda."""

from pages import visit_page

visits = 0


def handler(event, context):
    global visits
    visits += 1
    path = event["requestContext"]["http"]["path"]
    body = visit_page(visits, path)
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": body}
