"""gunicorn settings: `gunicorn -c config/gunicorn.conf.py config.wsgi`.

The access log goes through MaskingLogger, which masks URL secrets (patient links, reviewer
invitations, password-reset keys...) with config.logging.mask_secrets, the same function as
Django's own log filter.
"""

import os

from gunicorn.glogging import Logger

from config.logging import mask_secrets

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'


class MaskingLogger(Logger):
    # Every atom that can carry the request line, the path, the query or the referer.
    MASKED_ATOMS = ("r", "U", "q", "f")

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in self.MASKED_ATOMS:
            if isinstance(atoms.get(name), str):
                atoms[name] = mask_secrets(atoms[name])
        for name in (
            "{raw_uri}e",
            "{request_uri}e",
            "{path_info}e",
            "{query_string}e",
            "{http_referer}i",
            "{referer}i",
        ):
            if isinstance(atoms.get(name), str):
                atoms[name] = mask_secrets(atoms[name])
        return atoms

    def error(self, msg, *args, **kwargs):
        super().error(mask_secrets(str(msg)), *args, **kwargs)


logger_class = MaskingLogger
