"""Current user parked on the class: every later call sees the previous user."""


class RequestState:
    user = None
    tenant = None

    @classmethod
    def load(cls, event):
        cls.user = event["requestContext"]["authorizer"]["user"]


def handler(event, context):
    RequestState.load(event)
    RequestState.tenant = event["headers"]["x-tenant"]
    return {"user": RequestState.user}
