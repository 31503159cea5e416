"""cxplay: rules-based customer-experience playbooks."""

from cxplay._version import __version__

__all__ = ["__version__"]
