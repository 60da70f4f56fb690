"""The producer service: HTTP in, SQS out."""

from producer.main import create_app

__all__ = ["create_app"]
