"""PolicyKB: cited answers over Chinese policy documents."""

__version__ = "0.1.0"
