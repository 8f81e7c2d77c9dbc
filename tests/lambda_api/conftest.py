from kw_server import lam, server, side_dir, start_server  # noqa: F401
