"""Per-rule behaviour of the JavaScript (tree-sitter) analyser."""

from __future__ import annotations

from collections.abc import Callable

AuditFn = Callable[..., set[tuple[str, int]]]


def test_kw101_kw104_module_variable_from_event(audit: AuditFn) -> None:
    src = """
    let card;
    exports.handler = async (event) => {
      card = { number: event.card_number };
      return { ok: true };
    };
    """
    assert audit(src, name="index.js") == {("KW101", 3), ("KW104", 3)}


def test_local_const_and_shadowing_param_are_clean(audit: AuditFn) -> None:
    src = """
    let user = null;
    exports.handler = async (event, context) => {
      const card = { number: event.card_number };
      const user = event.user;
      return { card, user };
    };
    """
    assert audit(src, name="index.js") == set()


def test_implicit_global_and_closure(audit: AuditFn) -> None:
    src = """
    function make() {
      let prev;
      return (event, context) => { prev = event.id; leaked = event.body; };
    }
    exports.handler = make();
    """
    assert audit(src, name="index.js") == {("KW101", 3)}


def test_esm_export_function_and_container_methods(audit: AuditFn) -> None:
    src = """
    const seen = new Set();
    const byUser = {};
    export async function handler(event) {
      seen.add(event.id);
      byUser[event.user] = event.profile;
      Object.assign(byUser, event.extra);
    }
    """
    found = audit(src, name="index.mjs")
    expected = {("KW101", 4), ("KW101", 5), ("KW101", 6), ("KW102", 4), ("KW102", 5)}
    assert found == expected | {("KW102", 6)}


def test_api_client_calls_are_not_stores(audit: AuditFn) -> None:
    src = """
    const redis = require('redis').createClient();
    const stats = { count: 0 };
    exports.handler = async (event) => {
      await redis.set(event.key, event.value);
      stats.count += 1;
      console.log(event);
    };
    """
    assert audit(src, name="index.js") == set()


def test_bounded_map_is_clean_unbounded_is_kw102(audit: AuditFn) -> None:
    src = """
    const a = new Map();
    const b = new Map();
    exports.handler = async (event) => {
      a.set(event.k, Date.now());
      if (b.size > 10) b.clear();
      b.set(event.k, Date.now());
    };
    """
    assert audit(src, name="index.js") == {("KW102", 4)}


def test_kw103_fixed_and_cleaned(audit: AuditFn) -> None:
    src = """
    const fs = require('fs');
    const TMP = '/tmp/state.json';
    exports.handler = async (event, context) => {
      fs.writeFileSync(TMP, JSON.stringify(event));
      const mine = `/tmp/${context.awsRequestId}`;
      fs.writeFileSync(mine, 'x');
      fs.unlinkSync(mine);
      fs.readFileSync('/tmp/other');
    };
    """
    assert audit(src, name="index.js") == {("KW103", 4)}


def test_kw106_module_level_only(audit: AuditFn) -> None:
    src = """
    const { v4: uuidv4 } = require('uuid');
    const id = uuidv4();
    const seed = Math.random();
    const boot = new Date();
    exports.handler = async () => ({ id, now: Date.now(), fresh: uuidv4(), d: new Date() });
    """
    assert audit(src, name="index.js") == {("KW106", 2), ("KW106", 3), ("KW106", 4)}


def test_follows_require_into_helper(audit: AuditFn) -> None:
    app = """
    const { keep } = require('./lib/keep');
    exports.handler = async (event) => keep(event.password);
    """
    helper = """
    let kept;
    function keep(v) { kept = v; return v; }
    module.exports = { keep };
    """
    found = audit(helper, name="lib/keep.js", index__js=app)
    assert found == {("KW101", 2), ("KW104", 2)}


def test_syntax_error_reported_as_kw001(audit: AuditFn) -> None:
    assert audit("exports.handler = async (event => {", name="index.js") == {("KW001", 1)}
