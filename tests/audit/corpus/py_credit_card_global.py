"""The payment handler with the card kept in a module global."""
import payments

creditCard = None


def handler(event, context):
    global creditCard
    creditCard = {
        "number": event["credit_card_number"],
        "exp": event["credit_card_expiration"],
        "code": event["credit_card_security_code"],
    }
    if not payments.verify(creditCard):
        raise ValueError("Invalid card")
    return {"status": "verified"}
