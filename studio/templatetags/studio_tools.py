"""Template tags for the iteration controls: {% iteration_options version as options %}."""

from django import template

from .. import iterations
from ..models import Version

register = template.Library()


@register.simple_tag
def iteration_options(version: Version) -> iterations.Options:
    """Prices and choices for variations, upscales and promotion of one version."""
    return iterations.options(version)
