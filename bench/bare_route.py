"""A bare FastAPI route that validates the producer's body and answers 202: the HTTP floor.

`python -m bench.bare_route` serves one `POST /messages` taking the producer's own
`MessageIn`, on the producer's server setup (uvicorn, httptools, uvloop), and nothing else:
no middleware, no keys, no envelope, no SQS. Its CPU per request is what HTTP and validation
cost at the least; (f) measures it in the same run as (c), so the producer's CPU per message
can be judged against it.
"""

from __future__ import annotations

import os
import uuid

import uvicorn
from fastapi import FastAPI, status

from producer.schemas import MessageIn


def create_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/messages", status_code=status.HTTP_202_ACCEPTED)
    async def accept(message: MessageIn) -> dict[str, str]:
        return {"id": str(uuid.uuid4()), "type": message.type}

    return app


def main() -> None:
    uvicorn.run(
        create_app(),
        host=os.environ.get("PRODUCER_HOST", "127.0.0.1"),
        port=int(os.environ["PRODUCER_PORT"]),
        log_config=None,
        access_log=False,
        loop="auto",
        http="httptools",
    )


if __name__ == "__main__":
    main()
