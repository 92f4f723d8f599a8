"""The Chalice application: routes and event handlers are registered here; no logic lives here."""
from chalice import Chalice

from chalicelib import wiring
from chalicelib.config import get_settings
from chalicelib.handlers import (
    authorizer,
    bulk,
    console,
    deployment,
    docs,
    ecs_events,
    events,
    fallback,
    files,
    history,
    job_types,
    jobs,
    logs,
)
from chalicelib.handlers.common import http_middleware

# Every function starts by building its services from the environment: a bad setting stops it here.
wiring.services()

app = Chalice(app_name="jobs-service")
app.register_middleware(http_middleware, "http")
for module in (jobs, bulk, job_types, files, history, logs, console, events, ecs_events, docs):
    app.register_blueprint(module.blueprint)
app.register_blueprint(authorizer.blueprint)
app.register_blueprint(deployment.blueprint)
# Deployed, API Gateway authenticates every route but /docs and /openapi.json with the token authorizer.
if get_settings().auth_mode == "gateway":
    authorizer.protect_routes(app)
if fallback.wanted():  # unknown paths answer a JSON 404 locally; API Gateway's responses do it in AWS
    app.register_blueprint(fallback.blueprint)
