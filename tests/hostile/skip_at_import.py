"""Hostile: Calls pytest.skip(allow_module_level=True) while being imported."""

import pytest

pytest.skip("not on this machine", allow_module_level=True)
