"""Django settings for dj-stripe pointed at the disputedesk emulator.

Read from the environment (set by ``test_djstripe.py``): ``DJSTRIPE_DB`` (SQLite path) and
``EMULATOR_URL`` (the emulator's base address, which becomes ``stripe.api_base``).
"""

import os

SECRET_KEY = "dj-stripe-against-the-emulator"  # a throwaway test site
DEBUG = True  # dj-stripe refuses a custom STRIPE_API_HOST outside DEBUG
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "djstripe_site.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djstripe"]
MIDDLEWARE: list[str] = []
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ["DJSTRIPE_DB"],
                         "OPTIONS": {"timeout": 30}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STRIPE_API_HOST = os.environ["EMULATOR_URL"]
STRIPE_TEST_SECRET_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dcEmulator"  # any sk_test_ key works
STRIPE_LIVE_MODE = False
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"stderr": {"class": "logging.StreamHandler"}},
           "root": {"handlers": ["stderr"], "level": "WARNING"}}
# Tables straight from the models (what a migrated database holds), not dj-stripe's hundreds
# of migration steps: those take minutes on a loaded CI machine.
MIGRATION_MODULES = {"djstripe": None, "auth": None, "contenttypes": None}
