"""runway-img: turn text prompts into images through the Runway developer API."""

__version__ = "0.1.0"
