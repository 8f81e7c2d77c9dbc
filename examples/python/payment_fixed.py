"""The same payment handler with the card in a local variable: nothing outlives the call."""

import payments


class InvalidCardError(Exception):
    pass


def handler(event, context):
    card = {
        "number": event.get("credit_card_number"),
        "exp": event.get("credit_card_expiration"),
        "code": event.get("credit_card_security_code"),
    }
    if not payments.verify(card):
        raise InvalidCardError("Invalid card")
    return {"message": "Payment okay", "card_last4": str(card["number"])[-4:]}
