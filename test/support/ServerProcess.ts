/**
 * The example servers as real child processes on 127.0.0.1.
 *
 * `startServer` runs examples/<name>/server.ts with PORT=0 and the given
 * environment in the current scope, waits (bounded) for the line it prints
 * once it listens (`listening on http://HOST:PORT`, see listeningLine in
 * examples/server-kit/Contract.ts) and returns its URL, pid and output.
 * Closing the scope SIGKILLs a server that still runs. `launchServer` is
 * the same as a plain promise, for callers without a scope; they kill the
 * server themselves.
 *
 * A server runs as `node <bundle>` (see Bundle.ts), so SIGTERM and SIGINT
 * reach its own handlers; the four servers are bundled in one build,
 * sharing chunks. Native modules, esbuild and the web frameworks stay
 * outside the bundle and load from node_modules; `import.meta.url` in the
 * project's own files keeps naming the source file, so paths a server
 * resolves from it (its page and assets) are the same as when run from
 * source. PROFILE_INSIGHTS_SERVER_TSX=1 runs `node --import tsx server.ts`
 * instead.
 */
import { Data, Effect, type Scope } from "effect"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import * as Bundle from "./Bundle.js"

export const serverNames = ["express", "fastify", "hono", "effect-http"] as const

export type ServerName = (typeof serverNames)[number]

export interface ProcessExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface ServerProcess {
  readonly name: ServerName
  /** Such as http://127.0.0.1:41234, from the server's listening line. */
  readonly url: string
  readonly pid: number
  /** Everything the server printed on stdout so far. */
  readonly stdout: () => string
  /** Everything the server printed on stderr so far. */
  readonly stderr: () => string
  /** Sends a signal, SIGTERM by default; false when the process is gone. */
  readonly kill: (signal?: NodeJS.Signals) => boolean
  /** Settles when the process has ended. */
  readonly exited: Promise<ProcessExit>
  readonly hasExited: () => boolean
}

export interface StartOptions {
  /** How long to wait for the listening line. Default 30 seconds. */
  readonly readyTimeoutMillis?: number | undefined
}

export class ServerStartError extends Data.TaggedError("ServerStartError")<{
  readonly server: ServerName
  readonly reason: string
  readonly output: string
}> {
  override get message(): string {
    return `${this.server} server did not start: ${this.reason}\n${this.output}`
  }
}

const repoRoot = Bundle.repoRoot

/** The entry point of a server. */
export const serverEntry = (name: ServerName): string =>
  join(repoRoot, "examples", name, "server.ts")

/** The servers whose entry point exists. */
export const availableServers = (): ReadonlyArray<ServerName> =>
  serverNames.filter((name) => existsSync(serverEntry(name)))

// ---------------------------------------------------------------------------
// How a server is started

/** The servers `names` in one bundle, sharing chunks. */
const serversBundle = (names: ReadonlyArray<ServerName>): Bundle.Bundle => ({
  cache: "profile-insights-servers",
  entries: Object.fromEntries(names.map((name) => [name, serverEntry(name)])),
  sources: ["src", "adapters", "client", "examples"],
  external: [
    "better-sqlite3",
    "pg-native",
    "esbuild",
    "express",
    "fastify",
    "@fastify/*",
    "hono",
    "@hono/*"
  ],
  splitting: true,
  sourceImportMeta: true
})

/**
 * Every server is bundled in one build, so the library and effect are
 * parsed once; when that build fails (one server does not compile), the
 * server asked for is bundled on its own, so a broken server fails only
 * its own start.
 */
const nodeArguments = (name: ServerName): Promise<ReadonlyArray<string>> =>
  Bundle.nodeArguments(
    name,
    [serversBundle(availableServers()), serversBundle([name])],
    "PROFILE_INSIGHTS_SERVER_TSX"
  )

// ---------------------------------------------------------------------------
// Starting one

const listening = /^listening on (http:\/\/\S+)\s*$/m

const tail = (text: string, lines = 40) => text.split("\n").slice(-lines).join("\n")

/**
 * Starts a server with PORT=0, HOST=127.0.0.1 and `env` over this
 * process's environment, and resolves once it printed its listening line.
 * Rejects with ServerStartError (and kills the process) when it exits
 * first or the line does not come within the bound.
 */
export const launchServer = async (
  name: ServerName,
  env: Readonly<Record<string, string>> = {},
  options: StartOptions = {}
): Promise<ServerProcess> => {
  if (!existsSync(serverEntry(name))) {
    throw new ServerStartError({
      server: name,
      reason: `${serverEntry(name)} does not exist`,
      output: ""
    })
  }
  const command = await nodeArguments(name).catch((error: unknown) => {
    throw new ServerStartError({
      server: name,
      reason: "its bundle could not be built",
      output: error instanceof Error ? error.message : String(error)
    })
  })
  const child = spawn(process.execPath, [...command], {
    cwd: repoRoot,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  let ended = false
  const exited = new Promise<ProcessExit>((resolve) => {
    child.on("exit", (code, signal) => {
      ended = true
      resolve({ code, signal })
    })
  })
  const output = () => `--- stdout ---\n${tail(out)}\n--- stderr ---\n${tail(err)}`
  const url = await new Promise<string>((resolve, reject) => {
    const timeout = options.readyTimeoutMillis ?? 30_000
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(
        new ServerStartError({
          server: name,
          reason: `no listening line within ${timeout} ms`,
          output: output()
        })
      )
    }, timeout)
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8")
      const match = listening.exec(out)
      if (match !== null) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString("utf8")
    })
    void exited.then((exit) => {
      clearTimeout(timer)
      reject(
        new ServerStartError({
          server: name,
          reason: `exited (code ${exit.code}, signal ${exit.signal}) before listening`,
          output: output()
        })
      )
    })
    child.on("error", (cause) => {
      clearTimeout(timer)
      reject(new ServerStartError({ server: name, reason: String(cause), output: output() }))
    })
  })
  return {
    name,
    url: url.replace(/\/$/, ""),
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    kill: (signal = "SIGTERM") => !ended && child.kill(signal),
    exited,
    hasExited: () => ended
  }
}

/**
 * A server for the current scope (see launchServer). Closing the scope
 * SIGKILLs it if it still runs; when the scope closes with a failure, its
 * last output is printed.
 */
export const startServer = (
  name: ServerName,
  env: Readonly<Record<string, string>> = {},
  options: StartOptions = {}
): Effect.Effect<ServerProcess, ServerStartError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => launchServer(name, env, options),
      catch: (cause) =>
        cause instanceof ServerStartError
          ? cause
          : new ServerStartError({ server: name, reason: String(cause), output: "" })
    }),
    (server, exit) =>
      Effect.gen(function* () {
        if (exit._tag === "Failure") {
          console.error(
            `--- last output of ${name} server (pid ${server.pid}) ---\n` +
              `stdout:\n${tail(server.stdout())}\nstderr:\n${tail(server.stderr())}`
          )
        }
        if (server.hasExited()) return
        server.kill("SIGKILL")
        yield* Effect.promise(() => server.exited).pipe(
          Effect.timeout("5 seconds"),
          Effect.ignore
        )
      })
  )
