"""TemporaryDirectory removes everything on exit."""
import os
import tempfile


def handler(event, context):
    with tempfile.TemporaryDirectory() as workdir:
        target = os.path.join(workdir, "input.bin")
        with open(target, "wb") as fh:
            fh.write(event["body"].encode())
        return {"size": os.path.getsize(target)}
