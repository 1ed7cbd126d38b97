"""The floor for `bench/gate.py`: a bare FastAPI endpoint doing one raw aio-pika RPC to an echo
responder. Nothing of Versioner's code is used, so the gap to the gate is Versioner's own cost.

    python bench/floor.py echo --amqp URL --queue NAME
    python bench/floor.py serve --amqp URL --queue NAME --port PORT
"""

import argparse
import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
import uvicorn
from aio_pika.abc import AbstractIncomingMessage
from fastapi import FastAPI, Request, Response

REPLY_TO = "amq.rabbitmq.reply-to"


async def echo(amqp: str, queue_name: str) -> None:
    """Answer every request with its own body."""
    connection = await aio_pika.connect_robust(amqp)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=64)
    queue = await channel.declare_queue(queue_name, auto_delete=True)

    async def answer(message: AbstractIncomingMessage) -> None:
        async with message.process():
            await channel.default_exchange.publish(
                aio_pika.Message(message.body, correlation_id=message.correlation_id),
                routing_key=message.reply_to or "",
                mandatory=False,
            )

    await queue.consume(answer)
    await asyncio.Future()


def floor_app(amqp: str, queue_name: str) -> FastAPI:
    """POST anything: one RPC to the echo responder, its answer back."""
    pending: dict[str, asyncio.Future[bytes]] = {}
    state: dict[str, aio_pika.abc.AbstractChannel] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        connection = await aio_pika.connect_robust(amqp)
        channel = await connection.channel()
        replies = await channel.get_queue(REPLY_TO, ensure=False)

        async def on_reply(message: AbstractIncomingMessage) -> None:
            future = pending.pop(message.correlation_id or "", None)
            if future is not None and not future.done():
                future.set_result(message.body)

        await replies.consume(on_reply, no_ack=True)
        state["channel"] = channel
        yield
        await connection.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/deployment-events/")
    async def rpc(request: Request) -> Response:
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        pending[correlation_id] = future
        await state["channel"].default_exchange.publish(
            aio_pika.Message(
                await request.body(), correlation_id=correlation_id, reply_to=REPLY_TO
            ),
            routing_key=queue_name,
        )
        return Response(await asyncio.wait_for(future, 5), media_type="application/json")

    return app


def main() -> None:
    """Run the echo responder or the floor endpoint."""
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["echo", "serve"])
    parser.add_argument("--amqp", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    if args.role == "echo":
        asyncio.run(echo(args.amqp, args.queue))
    else:
        uvicorn.run(
            floor_app(args.amqp, args.queue),
            host="127.0.0.1",
            port=args.port,
            access_log=False,
            log_level="warning",
        )


if __name__ == "__main__":
    main()
