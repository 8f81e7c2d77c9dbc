"""Module state outlives an invocation: the first call in an environment sees "hello", every
later (warm) call in the same environment sees the value the previous call left behind."""

greeting = "hello"


def handler(event, context):
    global greeting
    current = greeting
    print(current)
    greeting = "it's me"
    return current
