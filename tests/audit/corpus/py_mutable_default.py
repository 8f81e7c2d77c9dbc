"""Deduplication via a mutable default: shared by every call in the environment."""


def already_seen(message_id, _seen=set()):
    if message_id in _seen:
        return True
    _seen.add(message_id)
    return False


def handler(event, context):
    fresh = [r for r in event["Records"] if not already_seen(r["messageId"])]
    return {"processed": len(fresh)}
