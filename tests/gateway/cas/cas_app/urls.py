import json

import django_cas_ng.views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path


@login_required
def private(request):
    body = {
        "username": request.user.get_username(),
        "attributes": request.session.get("attributes", {}),
    }
    return HttpResponse(json.dumps(body), content_type="application/json")


urlpatterns = [
    path("accounts/login/", django_cas_ng.views.LoginView.as_view(), name="cas_ng_login"),
    path("accounts/logout/", django_cas_ng.views.LogoutView.as_view(), name="cas_ng_logout"),
    path("private/", private),
]
