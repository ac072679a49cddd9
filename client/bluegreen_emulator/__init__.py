"""An emulated AWS account (moto) that deploys and runs this project's SAM template.

Client-side only: never packaged into the Lambda layer.
"""

from .core.clock import Clock
from .core.emulator import Emulator, EmulatorError

__all__ = ["Clock", "Emulator", "EmulatorError"]
