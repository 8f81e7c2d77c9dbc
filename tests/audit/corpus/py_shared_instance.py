"""A module-level service object that keeps the last order on itself."""


class OrderService:
    def __init__(self):
        self.last_order = None

    def handle(self, event):
        self.last_order = event["order"]
        return {"id": self.last_order["id"]}


service = OrderService()


def handler(event, context):
    return service.handle(event)
