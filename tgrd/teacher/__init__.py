"""Teacher labeling: rubric judge over any OpenAI-compatible API (see tgrd/teacher/client.py).

``tgrd.config`` imports ``tgrd.teacher.settings``, which imports ``StrictModel`` from
``tgrd.config``. Loading the config first here makes either import order work: importing
``tgrd.teacher.settings`` directly would otherwise meet a half-initialised settings module.
"""

import tgrd.config  # noqa: F401  (import order, see above)
