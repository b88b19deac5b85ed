"""Code shared by the action server, the web app and the scripts.

Settings live in :mod:`clinic.settings`, the clinic profile in
:mod:`clinic.profile`. Nothing here opens a connection at import time.
"""
