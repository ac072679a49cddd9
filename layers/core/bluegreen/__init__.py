"""bluegreen: the domain library shared by every function of the stack.

Nothing in this package reads the process environment at import time or creates AWS
clients at import time; handlers build a validated settings object and pass clients in.
"""

__version__ = "0.1.0"
