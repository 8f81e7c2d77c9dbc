"""Handler named only by the template (its parameters are not called event/context)."""
BATCHES = []


def process(payload, lambda_ctx):
    BATCHES.append(payload["records"])
    return {"batches": len(BATCHES)}
