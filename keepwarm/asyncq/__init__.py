"""Durable asynchronous invocation: a SQLite queue and a dispatcher with Lambda's retry policy."""
