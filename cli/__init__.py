"""The application layer: the ``h2s2r`` command line, ``run`` and ``demo``.

It imports the stages (each verb only its own, when it runs); nothing imports it.
"""
