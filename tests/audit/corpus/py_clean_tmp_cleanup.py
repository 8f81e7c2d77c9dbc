"""Per-request temp files that are removed before the handler returns."""
import json
import os
import tempfile


def handler(event, context):
    fd, path = tempfile.mkstemp(suffix=".json")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(event, fh)
        report = f"/tmp/{context.aws_request_id}.txt"
        with open(report, "w") as out:
            out.write(event.get("note", ""))
        os.remove(report)
        return {"bytes": os.path.getsize(path)}
    finally:
        os.remove(path)
