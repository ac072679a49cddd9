"""An emulated AWS account (moto) that deploys and runs this project's SAM template.

Client-side only: never packaged into the Lambda layer.
"""

from .clock import Clock
from .emulator import Emulator, EmulatorError

__all__ = ["Clock", "Emulator", "EmulatorError"]
