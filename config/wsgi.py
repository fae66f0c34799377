import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
try:
    application = get_wsgi_application()
except ImproperlyConfigured as exc:  # a bad variable is one line naming it, not a traceback
    sys.stderr.write(f"Configuration error: {exc}\n")
    raise SystemExit(2) from None
