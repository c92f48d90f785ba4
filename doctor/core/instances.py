"""What a Cloud SQL instance connection name looks like (PROJECT:REGION:INSTANCE).

Its own module because the workload readers and the checks need it while a replay must not
import the config reader (and its TOML parser) for one pattern.
"""

from __future__ import annotations

import re

_INSTANCE = re.compile(r"^[a-z0-9][a-z0-9.:-]*:[a-z0-9-]+:[a-z0-9][a-z0-9-]*$")


def is_instance_name(name: str) -> bool:
    return bool(_INSTANCE.match(name))
