"""Handler built by a factory that remembers the last order in its closure."""


def make_handler():
    last_order = None

    def handler(event, context):
        nonlocal last_order
        previous = last_order
        last_order = event["order"]
        return {"previous": previous}

    return handler


handler = make_handler()
