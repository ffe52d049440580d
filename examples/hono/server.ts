/**
 * The example API on Hono 4 with @hono/node-server, over the promise
 * client: the routes, JSON and status codes of
 * examples/server-kit/Contract.ts, with progress streamed as Server-Sent
 * Events by Hono's streamSSE.
 *
 *     PORT=3000 PROFILE_INSIGHTS_DB=data/insights.db node --import tsx examples/hono/server.ts
 */
import type { AddressInfo } from "node:net"
import { serve as listen } from "@hono/node-server"
import type { Server } from "node:http"
import { serveStatic } from "@hono/node-server/serve-static"
import { type Context, Hono } from "hono"
import { bodyLimit } from "hono/body-limit"
import { streamSSE } from "hono/streaming"
import { contentTypeOf, vendorAssets } from "../server-kit/Assets.js"
import {
  type ErrorAnswer,
  eventRetryMillis,
  importView,
  insightsView,
  jobView,
  malformedBody,
  ownerOf,
  unauthorized
} from "../server-kit/Contract.js"
import {
  answerFor,
  bodyLimitBytes,
  bodyTooLarge,
  closeServer,
  decodeSubmitBody,
  healthView,
  metricsContentType,
  needsOwner,
  noRoute,
  noSample,
  notFound,
  parseJsonBody,
  publicDirectory,
  requestCutShort,
  serve,
  startHost,
  streamJobEvents
} from "../server-kit/Node.js"
import { findSample, sampleSummaries } from "../server-kit/Samples.js"

const host = await startHost()
const { client } = host

type Env = { Variables: { owner: string } }

const send = (c: Context, answer: ErrorAnswer | typeof bodyTooLarge) =>
  c.json(answer.body, answer.status)

const app = new Hono<Env>()

app.use("/api/*", async (c, next) => {
  if (!needsOwner(c.req.path)) return next()
  const owner = ownerOf(host.tokens, c.req.header("authorization"))
  if (owner === undefined) return send(c, unauthorized)
  c.set("owner", owner)
  await next()
})
app.use("/api/*", bodyLimit({ maxSize: bodyLimitBytes, onError: (c) => send(c, bodyTooLarge) }))

app.get("/api/health", async (c) => c.json(healthView(await client.health())))

app.get("/metrics", async (c) =>
  c.body(await client.metrics(), 200, { "Content-Type": metricsContentType })
)

app.get("/api/samples", async (c) => c.json(await sampleSummaries()))

app.get("/api/samples/:name", async (c) => {
  const sample = await findSample(c.req.param("name"))
  if (sample === undefined) return send(c, noSample(c.req.param("name")))
  return c.json(sample.content)
})

app.post("/api/profiles", async (c) => {
  // Any content type is read as JSON: a profile export may come as a file.
  const body = parseJsonBody(await c.req.text())
  if (body._tag === "Left") return send(c, body.left)
  if (body.right === undefined) return send(c, malformedBody("expected a JSON profile export"))
  const saved = await client.importProfile(c.get("owner"), body.right, "body")
  return c.json(importView(saved), 201)
})

app.post("/api/profiles/:profileId/jobs", async (c) => {
  const body = parseJsonBody(await c.req.text())
  if (body._tag === "Left") return send(c, body.left)
  const options = decodeSubmitBody(body.right)
  if (options._tag === "Left") return send(c, options.left)
  const job = await client.submit(c.get("owner"), c.req.param("profileId"), options.right)
  return c.json(jobView(job), 202)
})

app.get("/api/profiles/:profileId/jobs/latest", async (c) => {
  const job = await client.latestJob(c.get("owner"), c.req.param("profileId"))
  return job === undefined ? send(c, notFound) : c.json(jobView(job))
})

app.get("/api/profiles/:profileId/insights", async (c) =>
  c.json(insightsView(await client.insights(c.get("owner"), c.req.param("profileId"))))
)

app.get("/api/jobs/:jobId", async (c) =>
  c.json(jobView(await client.status(c.get("owner"), c.req.param("jobId"))))
)

app.post("/api/jobs/:jobId/cancel", async (c) =>
  c.json(jobView(await client.cancel(c.get("owner"), c.req.param("jobId"))))
)

app.get("/api/jobs/:jobId/events", async (c) => {
  const owner = c.get("owner")
  const jobId = c.req.param("jobId")
  // Read first, so an unknown job is a JSON 404 rather than a stream.
  await client.status(owner, jobId)

  const lastEventId = c.req.header("last-event-id")
  return streamSSE(c, async (stream) => {
    const gone = new AbortController()
    stream.onAbort(() => gone.abort())
    await streamJobEvents(host, owner, jobId, lastEventId, gone.signal, (event) =>
      stream.writeSSE({
        event: event.event,
        id: event.id,
        data: JSON.stringify(event.data),
        retry: eventRetryMillis
      })
    )
  })
})

for (const [path, file] of vendorAssets) {
  app.get(path, serveStatic({
    path: file,
    onFound: (_path, c) => {
      c.header("Content-Type", contentTypeOf(file))
    }
  }))
}
app.get("/*", serveStatic({ root: publicDirectory, index: "index.html" }))

app.notFound((c) => send(c, noRoute(c.req.method, c.req.path)))
app.onError((error, c) =>
  send(
    c,
    c.req.raw.signal.aborted
      ? requestCutShort
      : answerFor(error, `${c.req.method} ${c.req.path}`)
  )
)

const server = listen({
  fetch: app.fetch,
  port: host.config.port,
  hostname: host.config.host
})
await serve(
  host,
  () =>
    new Promise<number>((resolve, reject) => {
      server.once("listening", () => resolve((server.address() as AddressInfo).port))
      server.once("error", reject)
    }),
  () => closeServer(server as Server)
)
