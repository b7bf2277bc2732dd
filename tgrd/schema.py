"""Base class of every config section; kept apart from tgrd/config.py so section modules
(tgrd/synth/settings.py, tgrd/teacher/settings.py, ...) can import it without importing the
whole schema, which imports them (no import cycle whichever module is imported first)."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
