"""Static (AST) reuse-safety analysis of Python and JavaScript handlers."""
