"""Writes the caller's password to /tmp for a subprocess and leaves it there."""
import os
import subprocess

CRED_FILE = os.path.join("/tmp", "creds.txt")


def handler(event, context):
    password = event["password"]
    with open("/tmp/creds.txt", "w") as fh:
        fh.write(password)
    subprocess.run(["login", "--password-file", "/tmp/creds.txt"], check=True)
    return {"ok": True}
