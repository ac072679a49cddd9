"""`bluegreen`, the operator CLI: deploy, plan, status, approve, abort, rollback, history.

Client-side only: never packaged into the Lambda layer. It imports the layer's shared
models (request validation, records, traffic weights) so both sides read the same data
the same way.
"""

from .cli import main

__all__ = ["main"]
