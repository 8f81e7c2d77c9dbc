"""Stand-in for a payment provider. Verification takes a moment, like a network call, which is
exactly the window in which shared state between invocations would be dangerous."""

import time

VERIFY_SECONDS = 0.05


def verify(card):
    time.sleep(VERIFY_SECONDS)
    number = str(card.get("number") or "")
    return bool(number) and not number.startswith("0000")
