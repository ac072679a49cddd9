"""An invocation's environment is its own (stack/runtime.py ThreadLocalEnviron): reads
see the function's variables over the process's, writes and deletions stay in the
invocation, and `in`/get() answer exactly what indexing answers."""

from __future__ import annotations

import threading

import pytest

from bluegreen_emulator.stack.runtime import ThreadLocalEnviron

pytestmark = pytest.mark.unit


def test_lookups_see_the_overlay_over_the_process_and_only_on_its_thread() -> None:
    # Given a process environment, and an invocation on this thread that sets one
    # variable, shadows another and deletes a third
    environ = ThreadLocalEnviron({"SHARED": "process", "GONE": "process", "KEPT": "process"})
    environ.overlay = {}
    environ["OWN"] = "invocation"
    environ["SHARED"] = "invocation"
    del environ["GONE"]

    # Then `in`, get() and indexing agree on every kind of key
    expected = {"OWN": "invocation", "SHARED": "invocation", "KEPT": "process", "GONE": None}
    for key, value in {**expected, "NEVER": None}.items():
        assert (key in environ) is (value is not None), key
        assert environ.get(key) == value, key
        assert environ.get(key, "default") == (value if value is not None else "default"), key
        if value is None:
            with pytest.raises(KeyError):
                environ[key]
        else:
            assert environ[key] == value
    assert dict(environ) == {k: v for k, v in expected.items() if v is not None}

    # and another thread sees the process environment, untouched
    seen: dict[str, object] = {}
    other = threading.Thread(
        target=lambda: seen.update(
            own="OWN" in environ, gone=environ.get("GONE"), shared=environ.get("SHARED")
        )
    )
    other.start()
    other.join()
    assert seen == {"own": False, "gone": "process", "shared": "process"}
