"""The anti-pattern: per-request secrets kept in a module-level global.

On Lambda (and keepwarm) this is still correct under concurrency, because one environment runs
one invocation at a time; but the card stays in memory after the call, and the code would be
wrong the moment an environment served two requests at once. The response echoes the last four
digits of the card that was actually verified, read back from the global, so tests can check
that every concurrent caller got its own card.
"""

import payments

credit_card = None


class InvalidCardError(Exception):
    pass


def handler(event, context):
    global credit_card
    credit_card = {
        "number": event.get("credit_card_number"),
        "exp": event.get("credit_card_expiration"),
        "code": event.get("credit_card_security_code"),
    }
    if not payments.verify(credit_card):
        raise InvalidCardError("Invalid card")
    return {"message": "Payment okay", "card_last4": str(credit_card["number"])[-4:]}
