"""The Chalice application: routes and event handlers are registered here; no logic lives here."""
from chalice import Chalice

from chalicelib import wiring
from chalicelib.handlers import bulk, console, docs, events, fallback, files, history, job_types, jobs, logs
from chalicelib.handlers.common import http_middleware

# Every function starts by building its services from the environment: a bad setting stops it here.
wiring.services()

app = Chalice(app_name="jobs-service")
app.register_middleware(http_middleware, "http")
for module in (jobs, bulk, job_types, files, history, logs, console, events, docs):
    app.register_blueprint(module.blueprint)
if fallback.wanted():  # unknown paths answer a JSON 404 locally; API Gateway's responses do it in AWS
    app.register_blueprint(fallback.blueprint)
