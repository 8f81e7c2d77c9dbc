"""keepwarm's Node.js runtime: plain JavaScript run by the machine's ``node`` (no npm packages).

A package only so the ``.js`` files ship as package data; nothing here is Python. The bootstrap
speaks the Runtime API with Node's built-in ``http`` and follows aws-lambda-ric's completion
rules (contract §3.3) and console format (§7.4). See docs/runtimes.md.
"""
