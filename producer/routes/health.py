"""Liveness, readiness and metrics, for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from producer.deps import QueueDep
from producer.request_body import StrictJsonRoute
from producer.schemas import Health
from shared.aws import AwsError

router = APIRouter(tags=["health"], route_class=StrictJsonRoute)


@router.get("/healthz", response_model_exclude_none=True)
def get_health() -> Health:
    """The process is up; says nothing about SQS, so a queue outage does not restart us."""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Health}}, response_model_exclude_none=True)
def get_readiness(queue: QueueDep, response: Response) -> Health:
    """Ready when the queue answers: route traffic here only then."""
    try:
        queue.ping()
    except AwsError as exc:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unavailable", queue=queue.name, detail=str(exc))
    return Health(status="ready", queue=queue.name)


@router.get("/metrics", response_class=Response)
def get_metrics() -> Response:
    """Prometheus text: requests sent to SQS by operation, and the process's own figures."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
