"""tgrd: rank LLM fine-tuning datasets with tool gates + a distilled student, on Ray.

Importing the package is cheap: Ray, torch and transformers are imported inside the functions
that need them, never at module import time.
"""

__version__ = "0.1.0"
