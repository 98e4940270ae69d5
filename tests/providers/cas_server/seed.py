"""Department users, and a service pattern that releases only the chosen attributes."""

import os
import sys

import django

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
django.setup()

from cas_server.models import ReplaceAttributName, ServicePattern  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402

service = sys.argv[1]
User.objects.create_user(
    "sunli", email="sunli@edu.city.gov.cn", password="edu-password", first_name="孙丽"
)
pattern = ServicePattern.objects.create(pos=1, name="yihaotong", pattern=f"^{service}")
for name in ("email", "first_name"):
    ReplaceAttributName.objects.create(name=name, replace="", service_pattern=pattern)
