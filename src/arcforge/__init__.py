"""arcforge: an ARC-AGI solver toolkit (LLM transduction, test-time training, DSL search)."""

__version__ = "0.1.0"
