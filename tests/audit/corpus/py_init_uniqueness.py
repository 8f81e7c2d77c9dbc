"""Instance id and start time computed at import: identical for every snapshot copy."""
import random
import time
import uuid

INSTANCE_ID = str(uuid.uuid4())
STARTED = time.time()
random.seed()


def handler(event, context):
    return {"instance": INSTANCE_ID, "started": STARTED}
