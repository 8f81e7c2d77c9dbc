"""Counts invocations per environment: ten calls to one warm environment end at 10."""

count = 0


def handler(event, context):
    global count
    count += 1
    return {"count": count}
