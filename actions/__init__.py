"""Custom actions run by the Rasa action server (`rasa run actions`).

The SDK imports every module in this package and registers every Action
subclass it finds, so only actions live here; shared code is in `clinic/`.
"""
