"""HTTP edge: the only package that imports Starlette."""

from .app import create_app

__all__ = ["create_app"]
