"""django-cas-server's side: a service pattern and ``count`` unvalidated service tickets for one
user, written with its own models; prints one query string a line."""

import os
import sys
from urllib.parse import urlencode

import django

sys.path.insert(0, os.environ["PEER_PROJECT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_settings")
sys.path.insert(0, os.path.dirname(__file__))
django.setup()

from cas_server import utils  # noqa: E402
from cas_server.models import (  # noqa: E402
    ReplaceAttributName,
    ServicePattern,
    ServiceTicket,
    User,
)
from django.contrib.auth.models import User as Account  # noqa: E402

service, count = sys.argv[1], int(sys.argv[2])
Account.objects.create_user("bench", email="bench@city.gov.cn", first_name="测试")
pattern = ServicePattern.objects.create(pos=1, name="bench", pattern=f"^{service}")
for name in ("email", "first_name"):  # released attributes, as Yihaotong releases a profile
    ReplaceAttributName.objects.create(name=name, replace="", service_pattern=pattern)
user = User.objects.create(username="bench", session_key="bench-session")
tickets = [
    ServiceTicket(user=user, service=service, service_pattern=pattern, value=utils.gen_st())
    for _ in range(count)
]
for ticket in tickets:  # what its login view copies into a ticket from the user
    ticket.attributs = {"email": "bench@city.gov.cn", "first_name": "测试"}
ServiceTicket.objects.bulk_create(tickets, batch_size=2000)
for ticket in tickets:
    print(urlencode({"service": service, "ticket": ticket.value}))
