"""Every extension of Rasa this project makes, in one package.

Rasa loads some of them from configuration; the others are installed by the
one start-up hook, `python -m rasa_extensions run` (this package's
`__main__`), which every entry point uses (scripts/run.sh, run_scaled.sh,
the benchmarks, the tests' servers, the Helm values) in place of `rasa run`.

- `tracker_store`: the SQL tracker store, kept going through a database
  outage. Installed by endpoints.yml (`tracker_store: type:`).
- `lock_store`: Rasa's Redis lock store with atomic lock changes.
  Installed by deploy/endpoints.scaled.yml (`lock_store: type:`).
- `channel_guard`: what every project input channel checks before Rasa sees
  a message. Used by the channels credentials.yml names (channels/).
- `response_schema`: action-server replies checked with a validator built
  once. Installed by the start-up hook, for the whole process.
- `action_fallback`: Rasa answers when the action server is down.
  Installed by the start-up hook, as a server listener.
- `history_cache`: a long conversation's history worked through once.
  Installed by the start-up hook, for the whole process.
- `nlu_batching`: concurrent messages' sentence vectors in one model call.
  Installed by the start-up hook, for the whole process.
- `sdk_validation`: rasa_sdk's slot list kept between slot validations.
  Installed by the start-up hook, for the whole process.
- `plugin`: the start-up hook itself, a Rasa plugin (pluggy), registered by
  `__main__`.

Each module's docstring says which Rasa behaviour it fixes and where that is
reported. They were written against, and checked with, rasa `RASA_VERSION`:
the start-up hook refuses to start on any other version, because two of
them replace or wrap private parts of Rasa that change between releases.
"""

from __future__ import annotations

RASA_VERSION = "3.6.21"


class WrongRasaVersion(SystemExit):
    """Raised at start-up when the installed rasa is not `RASA_VERSION`."""


def check_rasa_version(installed: str | None = None) -> None:
    """Refuses to go on unless the installed rasa is `RASA_VERSION`."""
    if installed is None:
        from rasa.version import __version__

        installed = str(__version__)
    if installed != RASA_VERSION:
        raise WrongRasaVersion(
            f"rasa_extensions was written for rasa {RASA_VERSION}, but rasa "
            f"{installed} is installed. Its patches replace private parts of "
            "Rasa (rasa_extensions/response_schema.py, tracker_store.py, "
            "lock_store.py, action_fallback.py): check each against the new "
            "release, then change RASA_VERSION in rasa_extensions/__init__.py."
        )
