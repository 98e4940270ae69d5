"""A department's web app for the tests: a small Django project that signs people in through
一号通's CAS server with django-cas-ng (CAS 3.0, single logout on)."""

import os

BASE_DIR = os.environ["CAS_APP_DIR"]
SECRET_KEY = "department-app-test-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_cas_ng",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_cas_ng.middleware.CASMiddleware",
]
AUTHENTICATION_BACKENDS = ["django_cas_ng.backends.CASBackend"]
ROOT_URLCONF = "urls"
TEMPLATES = []
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(BASE_DIR, "app.db")}
}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGIN_URL = "/accounts/login/"
CAS_SERVER_URL = os.environ["CAS_SERVER_URL"]
CAS_VERSION = "3"
CAS_CREATE_USER = True
CAS_LOGOUT_COMPLETELY = True
CAS_STORE_NEXT = False
CAS_RENEW = os.environ.get("CAS_RENEW") == "1"
# Errors into the server's log (the test's temporary directory), for whoever reads it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "file": {"class": "logging.FileHandler", "filename": os.path.join(BASE_DIR, "errors.log")}
    },
    "root": {"handlers": ["file"], "level": "WARNING"},
}
