"""Shared by functions through a layer: at /opt/python on Lambda and under keepwarm."""


def visit_page(count: int, path: str) -> str:
    return f"visit {count} of this environment (path {path}); a cold start begins at 1\n"
