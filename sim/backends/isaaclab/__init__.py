"""The Isaac Lab 3 backend (kit-less, Newton): :mod:`.usd` converts the task scene,
:mod:`.env` holds the backend (:class:`~.env.IsaacLabSim`) and Isaac Lab's
``DirectRLEnv`` of the task. Imports Isaac Lab only when used."""
