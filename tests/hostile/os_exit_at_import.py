"""Hostile: Ends the process with os._exit(0) while being imported."""

import os

os._exit(0)
