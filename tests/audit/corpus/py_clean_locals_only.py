"""Request data flows through locals and helpers only; ids minted per call."""
import uuid

SUPPORTED = {"eur", "usd"}


def normalise(body, defaults=None):
    defaults = defaults or {}
    merged = dict(defaults)
    merged.update(body)
    return merged


def handler(event, context):
    body = normalise(event.get("body") or {})
    seen = []
    seen.append(body)
    request_id = str(uuid.uuid4())
    return {"id": request_id, "ok": body.get("currency") in SUPPORTED, "n": len(seen)}
