/**
 * The example API on Fastify 5, over the promise client: the routes, JSON
 * and status codes of examples/server-kit/Contract.ts, with progress
 * streamed as Server-Sent Events by better-sse on the raw response.
 *
 *     PORT=3000 PROFILE_INSIGHTS_DB=data/insights.db node --import tsx examples/fastify/server.ts
 */
import { createReadStream } from "node:fs"
import type { AddressInfo } from "node:net"
import fastifyStatic from "@fastify/static"
import { createSession } from "better-sse"
import Fastify, { type FastifyError, type FastifyReply } from "fastify"
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
  closeConnectionsAsTheyIdle,
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

declare module "fastify" {
  interface FastifyRequest {
    /** The caller, set by the auth hook on every route that needs one. */
    owner: string
  }
}

const host = await startHost()
const { client } = host

const app = Fastify({
  logger: false,
  bodyLimit: bodyLimitBytes,
  // Errors of the router itself, such as a path that is not valid
  // percent-encoding: no route, answered as the other servers answer it.
  frameworkErrors: (_error, request, reply: FastifyReply) => {
    const { status, body } = noRoute(request.method, request.url.split("?")[0]!)
    return reply.code(status).send(body)
  }
})

// Any content type is read as JSON (a profile export may come as a file);
// no body at all is undefined, which POST .../jobs reads as `{}`.
// A "__proto__" or "constructor" key is dropped, as the import would drop
// any key it does not know, rather than refusing the body.
const parseJson = app.getDefaultJsonParser("remove", "remove")
app.removeAllContentTypeParsers()
app.addContentTypeParser("*", { parseAs: "string" }, (request, body, done) => {
  if (body === "") return done(null, undefined)
  parseJson(request, body as string, done)
})

app.decorateRequest("owner", "")
app.addHook("onRequest", async (request, reply) => {
  if (!needsOwner(request.url.split("?")[0]!)) return
  const owner = ownerOf(host.tokens, request.headers.authorization)
  if (owner === undefined) return reply.code(unauthorized.status).send(unauthorized.body)
  request.owner = owner
})

app.setErrorHandler((error: FastifyError, request, reply) => {
  const path = request.url.split("?")[0]!
  const status = error.statusCode ?? 500
  const sent: ErrorAnswer | typeof bodyTooLarge =
    error.code === "FST_ERR_CTP_BODY_TOO_LARGE"
      ? bodyTooLarge
      : error.code === "FST_ERR_CTP_INVALID_JSON_BODY"
      ? malformedBody("not valid JSON")
      : error.code?.startsWith("FST_ERR_CTP_")
      ? malformedBody(error.message)
      : "_tag" in error || status >= 500
      ? answerFor(error, `${request.method} ${path}`)
      // A static path it refused to serve, such as one leading out of public/.
      : noRoute(request.method, path)
  return reply.code(sent.status).send(sent.body)
})

app.setNotFoundHandler((request, reply) => {
  const { status, body } = noRoute(request.method, request.url.split("?")[0]!)
  return reply.code(status).send(body)
})

app.get("/api/health", async () => healthView(await client.health()))

app.get("/metrics", async (_request, reply) =>
  reply.type(metricsContentType).send(await client.metrics())
)

app.get("/api/samples", () => sampleSummaries())

app.get<{ Params: { name: string } }>("/api/samples/:name", async (request, reply) => {
  const sample = await findSample(request.params.name)
  if (sample === undefined) {
    const { status, body } = noSample(request.params.name)
    return reply.code(status).send(body)
  }
  return sample.content
})

app.post("/api/profiles", async (request, reply) => {
  if (request.body === undefined) {
    const { status, body } = malformedBody("expected a JSON profile export")
    return reply.code(status).send(body)
  }
  const saved = await client.importProfile(request.owner, request.body, "body")
  return reply.code(201).send(importView(saved))
})

app.post<{ Params: { profileId: string } }>(
  "/api/profiles/:profileId/jobs",
  async (request, reply) => {
    const options = decodeSubmitBody(request.body)
    if (options._tag === "Left") return reply.code(options.left.status).send(options.left.body)
    const job = await client.submit(request.owner, request.params.profileId, options.right)
    return reply.code(202).send(jobView(job))
  }
)

app.get<{ Params: { profileId: string } }>(
  "/api/profiles/:profileId/jobs/latest",
  async (request, reply) => {
    const job = await client.latestJob(request.owner, request.params.profileId)
    if (job === undefined) return reply.code(notFound.status).send(notFound.body)
    return jobView(job)
  }
)

app.get<{ Params: { profileId: string } }>(
  "/api/profiles/:profileId/insights",
  async (request) =>
    insightsView(await client.insights(request.owner, request.params.profileId))
)

app.get<{ Params: { jobId: string } }>("/api/jobs/:jobId", async (request) =>
  jobView(await client.status(request.owner, request.params.jobId))
)

app.post<{ Params: { jobId: string } }>("/api/jobs/:jobId/cancel", async (request) =>
  jobView(await client.cancel(request.owner, request.params.jobId))
)

app.get<{ Params: { jobId: string } }>("/api/jobs/:jobId/events", async (request, reply) => {
  const { owner } = request
  const { jobId } = request.params
  // Read first, so an unknown job is a JSON 404 rather than a stream.
  await client.status(owner, jobId)

  // From here on the raw response is the stream's, not Fastify's.
  reply.hijack()
  const gone = new AbortController()
  reply.raw.on("close", () => gone.abort())
  const session = await createSession(request.raw, reply.raw, { retry: eventRetryMillis })
  const lastEventId = request.headers["last-event-id"]
  await streamJobEvents(
    host,
    owner,
    jobId,
    Array.isArray(lastEventId) ? lastEventId[0] : lastEventId,
    gone.signal,
    (event) => {
      if (session.isConnected) session.push(event.data, event.event, event.id)
    }
  )
  reply.raw.end()
})

for (const [path, file] of vendorAssets) {
  app.get(path, (_request, reply) =>
    reply.type(contentTypeOf(file)).send(createReadStream(file))
  )
}
await app.register(fastifyStatic, { root: publicDirectory, index: "index.html" })

await serve(
  host,
  async () => {
    await app.listen({ port: host.config.port, host: host.config.host })
    return (app.server.address() as AddressInfo).port
  },
  async () => {
    const stop = closeConnectionsAsTheyIdle(app.server)
    await app.close().finally(stop)
  }
)
