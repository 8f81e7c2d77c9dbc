"""Client and config created once at init: the intended use of reuse."""
import json
import os

import boto3

TABLE_NAME = os.environ.get("TABLE", "orders")
CONFIG = json.loads(os.environ.get("CONFIG", "{}"))
dynamodb = boto3.resource("dynamodb")
table = dynamodb.Table(TABLE_NAME)
_s3 = None
INVOCATIONS = 0


def s3():
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    return _s3


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    order = table.get_item(Key={"id": event["order_id"]}).get("Item")
    s3().put_object(Bucket=CONFIG.get("bucket", "b"), Key=event["order_id"], Body=b"x")
    return {"order": order, "warm_count": INVOCATIONS}
