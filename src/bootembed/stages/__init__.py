"""One module per DVC stage command: the stage logic, called by the thin click layer of :mod:`bootembed.cli`.

Each module imports every ``bootembed`` module it runs at the top, so the modules loaded by importing it are the
stage's code dependencies: :mod:`bootembed.pipeline` renders them into ``dvc.yaml``, and a test fails when
``dvc.yaml`` misses one.
"""
