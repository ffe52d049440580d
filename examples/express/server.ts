/**
 * The example API on Express 5, over the promise client: the routes, JSON
 * and status codes of examples/server-kit/Contract.ts, with progress
 * streamed as Server-Sent Events by better-sse.
 *
 *     PORT=3000 PROFILE_INSIGHTS_DB=data/insights.db node --import tsx examples/express/server.ts
 */
import { once } from "node:events"
import type { AddressInfo } from "node:net"
import { createSession } from "better-sse"
import express, {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type Response
} from "express"
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
  publicDirectory,
  serve,
  startHost,
  streamJobEvents
} from "../server-kit/Node.js"
import { findSample, sampleSummaries } from "../server-kit/Samples.js"

const host = await startHost()
const { client } = host

const send = (res: Response, answer: ErrorAnswer | typeof bodyTooLarge) =>
  res.status(answer.status).json(answer.body)

/** The owner the auth middleware found for this request. */
const owner = (res: Response): string => res.locals.owner as string

const app = express()
app.disable("x-powered-by")
app.use((req: Request, res: Response, next: NextFunction) => {
  if (!needsOwner(req.path)) return next()
  const found = ownerOf(host.tokens, req.get("authorization"))
  if (found === undefined) return send(res, unauthorized)
  res.locals.owner = found
  next()
})
// Any content type is read as JSON: a profile export may come as a file.
// Not strict: `null` or `"text"` is JSON too, and is answered by the
// route as the other servers answer it.
// body-parser reads an empty body as {}: `verify` notes its length, so an
// empty body is no body, as on the other servers.
app.use(express.json({
  limit: bodyLimitBytes,
  type: () => true,
  strict: false,
  verify: (_req, res, buffer) => {
    ;(res as Response).locals.bodyBytes = buffer.length
  }
}))

/** The parsed body, or undefined when the request had none. */
const bodyOf = (req: Request, res: Response): unknown =>
  ((res.locals.bodyBytes as number | undefined) ?? 0) === 0 ? undefined : req.body

app.get("/api/health", async (_req, res) => {
  res.json(healthView(await client.health()))
})

app.get("/metrics", async (_req, res) => {
  res.type(metricsContentType).send(await client.metrics())
})

app.get("/api/samples", async (_req, res) => {
  res.json(await sampleSummaries())
})

app.get("/api/samples/:name", async (req, res) => {
  const sample = await findSample(req.params.name)
  if (sample === undefined) return send(res, noSample(req.params.name))
  res.json(sample.content)
})

app.post("/api/profiles", async (req, res) => {
  const body = bodyOf(req, res)
  if (body === undefined) return send(res, malformedBody("expected a JSON profile export"))
  const saved = await client.importProfile(owner(res), body, "body")
  res.status(201).json(importView(saved))
})

app.post("/api/profiles/:profileId/jobs", async (req, res) => {
  const options = decodeSubmitBody(bodyOf(req, res))
  if (options._tag === "Left") return send(res, options.left)
  const job = await client.submit(owner(res), req.params.profileId, options.right)
  res.status(202).json(jobView(job))
})

app.get("/api/profiles/:profileId/jobs/latest", async (req, res) => {
  const job = await client.latestJob(owner(res), req.params.profileId)
  if (job === undefined) return send(res, notFound)
  res.json(jobView(job))
})

app.get("/api/profiles/:profileId/insights", async (req, res) => {
  res.json(insightsView(await client.insights(owner(res), req.params.profileId)))
})

app.get("/api/jobs/:jobId", async (req, res) => {
  res.json(jobView(await client.status(owner(res), req.params.jobId)))
})

app.post("/api/jobs/:jobId/cancel", async (req, res) => {
  res.json(jobView(await client.cancel(owner(res), req.params.jobId)))
})

app.get("/api/jobs/:jobId/events", async (req, res) => {
  const { jobId } = req.params
  // Read first, so an unknown job is a JSON 404 rather than a stream.
  await client.status(owner(res), jobId)

  const gone = new AbortController()
  res.on("close", () => gone.abort())
  const session = await createSession(req, res, { retry: eventRetryMillis })
  await streamJobEvents(
    host,
    owner(res),
    jobId,
    req.get("last-event-id"),
    gone.signal,
    (event) => {
      if (session.isConnected) session.push(event.data, event.event, event.id)
    }
  )
  res.end()
})

for (const [path, file] of vendorAssets) {
  app.get(path, (_req, res) => res.type(contentTypeOf(file)).sendFile(file))
}
app.use(express.static(publicDirectory, { index: "index.html" }))

app.use((req: Request, res: Response) => send(res, noRoute(req.method, req.path)))

const onError: ErrorRequestHandler = (error, req, res, next) => {
  if (res.headersSent) return next(error)
  const { type, status } = error as { type?: unknown; status?: unknown }
  // body-parser's errors carry a `type`; a 4xx one is the request's fault
  // (not JSON, cut short by a client that went away).
  if (type === "entity.too.large") return send(res, bodyTooLarge)
  if (typeof type === "string" && typeof status === "number" && status < 500) {
    return send(res, malformedBody((error as Error).message))
  }
  // The router's own 4xx, such as a path that is not valid percent-encoding.
  if (typeof status === "number" && status >= 400 && status < 500) {
    return send(res, noRoute(req.method, req.path))
  }
  return send(res, answerFor(error, `${req.method} ${req.path}`))
}
app.use(onError)

const server = app.listen(host.config.port, host.config.host)
await serve(
  host,
  async () => {
    await once(server, "listening")
    return (server.address() as AddressInfo).port
  },
  () => closeServer(server)
)
