"""`python -m rasa_extensions <rasa arguments>`: Rasa's own CLI, with this
project's start-up hook (rasa_extensions/plugin.py) registered first.

    python -m rasa_extensions run --model models --endpoints endpoints.yml ...
"""

from __future__ import annotations

import sys


def main() -> None:
    import rasa.__main__
    from rasa.plugin import plugin_manager

    from rasa_extensions import plugin

    manager = plugin_manager()
    if not manager.is_registered(plugin):
        manager.register(plugin)
    rasa.__main__.main()


if __name__ == "__main__":
    main()
    sys.exit(0)
