"""Bounded keepwarm.orc caches for request-keyed lookups."""
from keepwarm import orc

prices = orc.Cache(max_entries=512, ttl=300)


@orc.cached(max_entries=128, ttl=60)
def exchange_rate(currency):
    return 1.0


def handler(event, context):
    sku = event["sku"]
    price = prices.get_or_set(sku, lambda: 9.99)
    return {"price": price * exchange_rate(event["currency"])}
