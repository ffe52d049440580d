/**
 * A real HTTP server on 127.0.0.1 standing in for an alert webhook. It
 * records every request; it can be closed and opened again on the same
 * port, and made to hold requests without answering.
 */
import { Chunk, Effect, Queue, Ref, type Scope } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export interface Received {
  readonly method: string
  readonly path: string
  readonly contentType: string | undefined
  readonly token: string | undefined
  readonly body: unknown
}

export interface WebhookServer {
  readonly url: string
  /** Requests in the order they arrived. */
  readonly received: Queue.Queue<Received>
  readonly all: Effect.Effect<ReadonlyArray<Received>>
  /** Stops listening and drops open connections: the webhook is down. */
  readonly close: Effect.Effect<void>
  /** Listens again on the same port. */
  readonly open: Effect.Effect<void>
  /** From now on, requests get no answer until `release`. */
  readonly hold: Effect.Effect<void>
  /** Answers every held request with 200 and stops holding. */
  readonly release: Effect.Effect<void>
}

export const start: Effect.Effect<WebhookServer, never, Scope.Scope> = Effect.gen(function* () {
  const received = yield* Queue.unbounded<Received>()
  const log = yield* Ref.make<Chunk.Chunk<Received>>(Chunk.empty())
  const holding = yield* Ref.make(false)
  const held: Array<ServerResponse> = []

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    let text = ""
    request.setEncoding("utf8")
    request.on("data", (chunk: string) => (text += chunk))
    request.on("end", () => {
      const entry: Received = {
        method: request.method ?? "",
        path: request.url ?? "",
        contentType: request.headers["content-type"],
        token: request.headers["x-token"] as string | undefined,
        body: JSON.parse(text)
      }
      Effect.runSync(Ref.update(log, Chunk.append(entry)))
      Queue.unsafeOffer(received, entry)
      if (Effect.runSync(Ref.get(holding))) {
        held.push(response)
      } else {
        response.writeHead(200).end("ok")
      }
    })
  }
  const server = createServer(handle)
  const listen = (port: number) =>
    Effect.async<number>((resume) => {
      server.listen(port, "127.0.0.1", () =>
        resume(Effect.succeed((server.address() as AddressInfo).port))
      )
    })
  const port = yield* listen(0)
  const close = Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => held.splice(0).forEach((r) => r.destroy())).pipe(
      Effect.zipRight(server.listening ? close : Effect.void)
    )
  )
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    received,
    all: Effect.map(Ref.get(log), Chunk.toReadonlyArray),
    close,
    open: Effect.asVoid(listen(port)),
    hold: Ref.set(holding, true),
    release: Effect.zipRight(
      Ref.set(holding, false),
      Effect.sync(() => held.splice(0).forEach((r) => r.writeHead(200).end("ok")))
    )
  }
})
