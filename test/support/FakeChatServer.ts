/**
 * A fake OpenAI-compatible chat completions server on 127.0.0.1: a real
 * node:http server speaking the real wire format (POST
 * /v1/chat/completions with model, messages and response_format; answers
 * with id, object "chat.completion", choices[0].message.content,
 * finish_reason and usage), scripted per request.
 *
 * It records every request it receives, and can enforce a limit of
 * requests per second window of the wall clock (a request over the limit
 * gets a 429 with Retry-After: 1), counting arrivals per window.
 */
import { Effect, type Scope } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface Received {
  /** 1-based, in order of arrival. */
  readonly index: number
  /** Date.now() at arrival. */
  readonly at: number
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: {
    readonly model?: unknown
    readonly messages?: ReadonlyArray<{ role: string; content: string }>
    readonly response_format?: unknown
    readonly max_tokens?: unknown
    readonly temperature?: unknown
  }
  readonly system: string
  readonly user: string
  /** The caption in the user message's JSON, if it has one. */
  readonly caption: string | undefined
  /** Requests received before this one with the same caption. */
  readonly previousForCaption: number
}

export type Reply =
  | {
    readonly kind: "answer"
    readonly content: string | null
    readonly finishReason?: string
    readonly refusal?: string | null
    /** Default: about a token per 4 characters; null to leave usage out. */
    readonly usage?: { readonly prompt: number; readonly completion: number } | null
  }
  | {
    readonly kind: "status"
    readonly status: number
    readonly headers?: Readonly<Record<string, string>>
    readonly body?: string
  }
  /** Never answers; the connection stays open until the client gives up. */
  | { readonly kind: "hang" }
  /** Destroys the socket without an answer. */
  | { readonly kind: "destroy" }

export type Script = (request: Received) => Reply | Promise<Reply>

export interface Options {
  readonly script: Script
  /** Requests allowed per wall-clock second; more get a 429. */
  readonly perSecond?: number | undefined
}

export interface FakeChatServer {
  /** The base URL, such as http://127.0.0.1:PORT/v1. */
  readonly baseUrl: string
  readonly calls: () => ReadonlyArray<Received>
  readonly callsFor: (caption: string) => number
  /** Resolves once `n` requests have arrived. */
  readonly awaitCalls: (n: number) => Promise<void>
  /** The most requests that arrived in one wall-clock second. */
  readonly maxPerSecond: () => number
  /** Requests answered 429 for going over `perSecond`. */
  readonly overLimit: () => number
  readonly close: () => Promise<void>
}

const error = (message: string, type: string) =>
  JSON.stringify({ error: { message, type, param: null, code: null } })

export const completion = (
  request: Received,
  reply: Extract<Reply, { kind: "answer" }>
) => {
  const usage = reply.usage === undefined
    ? {
      prompt: Math.ceil((request.system.length + request.user.length) / 4),
      completion: Math.ceil((reply.content ?? "").length / 4)
    }
    : reply.usage
  return {
    id: `chatcmpl-fake-${request.index}`,
    object: "chat.completion",
    created: Math.floor(request.at / 1000),
    model: typeof request.body.model === "string" ? request.body.model : "fake",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: reply.content, refusal: reply.refusal ?? null },
        logprobs: null,
        finish_reason: reply.finishReason ?? "stop"
      }
    ],
    ...(usage === null ? {} : {
      usage: {
        prompt_tokens: usage.prompt,
        completion_tokens: usage.completion,
        total_tokens: usage.prompt + usage.completion
      }
    })
  }
}

const captionOf = (user: string): string | undefined => {
  try {
    const parsed = JSON.parse(user) as { post?: { caption?: unknown } }
    return typeof parsed.post?.caption === "string" ? parsed.post.caption : undefined
  } catch {
    return undefined
  }
}

export const start = (options: Options): Promise<FakeChatServer> => {
  const received: Array<Received> = []
  const perCaption = new Map<string, number>()
  const perWindow = new Map<number, number>()
  const waiters: Array<{ n: number; resolve: () => void }> = []
  let overLimit = 0

  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const at = Date.now()
      const window = Math.floor(at / 1000)
      const inWindow = (perWindow.get(window) ?? 0) + 1
      perWindow.set(window, inWindow)

      let body: Received["body"] = {}
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
      } catch {
        body = {}
      }
      const messages = Array.isArray(body.messages) ? body.messages : []
      const system = messages.find((m) => m.role === "system")?.content ?? ""
      const user = messages.find((m) => m.role === "user")?.content ?? ""
      const caption = captionOf(user)
      const previous = caption === undefined ? 0 : perCaption.get(caption) ?? 0
      if (caption !== undefined) perCaption.set(caption, previous + 1)
      const request: Received = {
        index: received.length + 1,
        at,
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body,
        system,
        user,
        caption,
        previousForCaption: previous
      }
      received.push(request)
      for (const w of waiters.splice(0)) {
        if (received.length >= w.n) w.resolve()
        else waiters.push(w)
      }

      const send = (status: number, text: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers })
        res.end(text)
      }
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
        return send(404, error(`no route ${req.method} ${req.url}`, "invalid_request_error"))
      }
      if (typeof body.model !== "string" || messages.length === 0) {
        return send(400, error("model and messages are required", "invalid_request_error"))
      }
      if (options.perSecond !== undefined && inWindow > options.perSecond) {
        overLimit++
        return send(
          429,
          error("Rate limit reached for requests", "requests"),
          { "retry-after": "1" }
        )
      }
      Promise.resolve(options.script(request)).then((reply) => {
        switch (reply.kind) {
          case "answer":
            return send(200, JSON.stringify(completion(request, reply)))
          case "status":
            return send(reply.status, reply.body ?? error(`status ${reply.status}`, "server_error"), {
              ...reply.headers
            })
          case "hang":
            return
          case "destroy":
            return req.socket.destroy()
        }
      })
    })
  })

  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        baseUrl: `http://127.0.0.1:${port}/v1`,
        calls: () => received,
        callsFor: (caption) => perCaption.get(caption) ?? 0,
        awaitCalls: (n) =>
          received.length >= n
            ? Promise.resolve()
            : new Promise((r) => waiters.push({ n, resolve: r })),
        maxPerSecond: () => Math.max(0, ...perWindow.values()),
        overLimit: () => overLimit,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
}

/** A server for the current scope. */
export const scoped = (options: Options): Effect.Effect<FakeChatServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (server) => Effect.promise(() => server.close())
  )

// ---------------------------------------------------------------------------
// A deterministic "model"

const words = (text: string): Array<string> =>
  text.toLowerCase().match(/[\p{L}']+/gu) ?? []

/**
 * The answer a well-behaved model gives for a caption, deterministically:
 * sentiment from a few words, English when there are Latin words, the
 * caption's hashtags and mentions, a food topic for food words.
 */
export const answerFor = (caption: string) => {
  const w = words(caption)
  const positive = w.filter((x) => ["good", "love", "great", "happy", "yummy"].includes(x)).length
  const negative = w.filter((x) => ["sad", "bad", "awful", "hate", "angry"].includes(x)).length
  const latin = w.some((x) => /^[a-z']+$/.test(x))
  const score = positive === negative ? 0 : positive > negative ? 0.6 : -0.6
  return {
    rationale: positive + negative === 0 ? "no sentiment words" : "sentiment words found",
    sentiment: w.length === 0
      ? { label: "not_computed", score: null }
      : { label: score > 0 ? "positive" : score < 0 ? "negative" : "neutral", score },
    language: { code: latin ? "en" : "und", reliable: latin },
    topics: w.includes("food") ? [{ topic: "food", confidence: 0.9 }] : [],
    hashtags: (caption.match(/#[\p{L}\p{N}_]+/gu) ?? []).map((h) => h.slice(1).toLowerCase()),
    mentions: (caption.match(/@[\p{L}\p{N}_.]+/gu) ?? []).map((m) => m.slice(1).toLowerCase()),
    emoji: [...new Set(caption.match(/\p{Extended_Pictographic}/gu) ?? [])].slice(0, 20),
    entities: [],
    keywords: w.slice(0, 5),
    brandSafety: w.includes("beer") ? [{ category: "alcohol", terms: ["beer"] }] : []
  }
}

/** A valid answer for the request's caption. */
export const valid = (request: Received): Reply => ({
  kind: "answer",
  content: JSON.stringify(answerFor(request.caption ?? ""))
})
