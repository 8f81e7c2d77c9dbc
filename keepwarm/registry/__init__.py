"""Function definitions created through the control plane: persisted, versioned, aliased.

Why a package of its own: the HTTP layer only translates, so the rules of CreateFunction,
PublishVersion, aliases and concurrency live here, testable without a server.
"""
