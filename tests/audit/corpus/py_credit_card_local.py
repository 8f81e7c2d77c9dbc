"""Same handler, card in a local: nothing outlives the invocation."""
import payments


def handler(event, context):
    credit_card = {
        "number": event["credit_card_number"],
        "exp": event["credit_card_expiration"],
        "code": event["credit_card_security_code"],
    }
    if not payments.verify(credit_card):
        raise ValueError("Invalid card")
    return {"status": "verified"}
