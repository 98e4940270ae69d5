"""django-cas-server for the bench: the tests' project, with tickets that outlive the minting."""

from settings import *  # noqa: F403 (the tests' django-cas-server project)

CAS_TICKET_VALIDITY = 3600
