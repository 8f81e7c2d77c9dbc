"""The 2015 post's three JavaScript examples, verbatim, on keepwarm (examples/post/).

(a) a module-level variable survives between warm invocations: "hello", then "it's me";
(b) a module-level CACHE: the second call is served without a database lookup;
(c) the credit-card global: concurrent calls run in separate environments, so every call
    verifies its own card, and a bad card fails with the snippet's own 'Invalid card'.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from keepwarm import Runtime, ServerConfig
from keepwarm.invocation import StartKind
from keepwarm.template import load_template

pytestmark = pytest.mark.node

POST = Path(__file__).resolve().parents[3] / "examples" / "post"
SEED = Path("/work/shared/seed/occasionally-reliable-caching-2015.txt")
SHA256 = {
    "hello.js": "785a34abc2c297f0af94304f5b17f03d5208c35f9637fc1878923ea0c28ac68a",
    "cache.js": "dc53ffb4c217dbcbe1bce9e15ff9dc50728185018e5cc5e6b0a0cae7e9413cd2",
    "payment.js": "c9885031e76943039c443ba9b5332a218b006945950708c989bacee6d771d05a",
}


@pytest.mark.parametrize("name", sorted(SHA256))
def test_snippets_are_verbatim(name: str) -> None:
    text = (POST / name).read_text()
    assert hashlib.sha256(text.encode()).hexdigest() == SHA256[name]
    if SEED.exists():
        assert text.strip() in SEED.read_text()


@pytest.fixture
def post(tmp_path: Path) -> Iterator[Runtime]:
    # Longer timeouts than the template's 3 s: many node cold starts at once on a small machine.
    configs = [c.with_changes(timeout_s=30) for c in load_template(POST / "template.yaml")]
    assert {c.runtime for c in configs} == {"nodejs20.x"}
    rt = Runtime(configs, server=ServerConfig(data_dir=tmp_path / "data"))
    rt.start()
    yield rt
    rt.close()


def info_lines(logs: str) -> list[str]:
    return [line.split("\t", 3)[3] for line in logs.splitlines() if "\tINFO\t" in line]


def test_hello_then_its_me(post: Runtime) -> None:
    first, second = post.invoke("Hello"), post.invoke("Hello")
    assert info_lines(first.logs) == ["hello"]
    assert info_lines(second.logs) == ["it's me"]
    assert (first.json(), second.json()) == (None, None)
    assert second.start_kind is StartKind.WARM and second.env_id == first.env_id


def test_cache_hit_on_the_second_call(post: Runtime) -> None:
    first = post.invoke("Cache", {"item": "book-42"})
    second = post.invoke("Cache", {"item": "book-42"})
    assert first.json()["item"] == "book-42" and first.json()["lookup"] == 1
    assert second.json() == first.json()  # same object: served from CACHE
    assert info_lines(first.logs) == ['db.find("book-42") lookup #1']
    assert info_lines(second.logs) == []  # no database lookup
    other = post.invoke("Cache", {"item": "pen"})
    assert other.json()["lookup"] == 2


def luhn(prefix: str) -> str:
    """A valid card number: ``prefix`` + the Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return prefix + str((10 - total % 10) % 10)


def test_credit_cards_never_mix_under_concurrency(post: Runtime) -> None:
    cards = [luhn(f"411111111111{n:03d}") for n in range(12)]
    events = [
        {
            "credit_card_number": c,
            "credit_card_expiration": "12/30",
            "credit_card_security_code": "123",
        }
        for c in cards
    ]
    with ThreadPoolExecutor(len(events)) as pool:
        results = list(pool.map(lambda e: post.invoke("Payment", e), events))
    for card, result in zip(cards, results, strict=True):
        assert result.json() == "Payment okay"
        assert info_lines(result.logs) == [f"payments.verify: card ending {card[-4:]}"]
    assert len({r.env_id for r in results}) >= 2  # overlapping calls got separate environments


def test_invalid_card_fails_with_the_snippets_message(post: Runtime) -> None:
    result = post.invoke("Payment", {"credit_card_number": "4111111111111112"})
    assert result.function_error == "Unhandled"
    assert result.json() == {"errorType": "string", "errorMessage": "Invalid card", "trace": []}
    assert re.search(r"\tERROR\tInvoke Error \t", result.logs)
