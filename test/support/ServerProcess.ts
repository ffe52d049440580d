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
 * A server runs as `node <bundle>`: the server, the library and effect
 * bundled with esbuild, as the fault suite runs its workers (under a
 * second to listening instead of several through the tsx loader); the
 * four servers are bundled in one build, sharing chunks. Node is
 * the server's own process, with no loader or wrapper between it and a
 * signal, so SIGTERM and SIGINT reach the server's handlers. Native
 * modules, esbuild and the web frameworks stay outside the bundle and load
 * from node_modules; `import.meta.url` in the project's own files keeps
 * naming the source file, so paths a server resolves from it (its page and
 * assets) are the same as when run from source. The bundles' directory is
 * named after a hash of the sources and the lock file, rebuilt when they
 * change.
 * PROFILE_INSIGHTS_SERVER_TSX=1 runs `node --import tsx server.ts` instead.
 */
import { Data, Effect, type Scope } from "effect"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync
} from "node:fs"
import { readFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

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

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

/** The entry point of a server. */
export const serverEntry = (name: ServerName): string =>
  join(repoRoot, "examples", name, "server.ts")

/** The servers whose entry point exists. */
export const availableServers = (): ReadonlyArray<ServerName> =>
  serverNames.filter((name) => existsSync(serverEntry(name)))

// ---------------------------------------------------------------------------
// How a server is started

const sourceHash = (): string => {
  const hash = createHash("sha256")
  const visit = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const child = join(path, entry.name)
      if (entry.isDirectory()) visit(child)
      else if (/\.(ts|tsx|mts|json)$/.test(entry.name)) {
        hash.update(child).update(readFileSync(child))
      }
    }
  }
  for (const dir of ["src", "adapters", "client", "examples"]) visit(join(repoRoot, dir))
  hash.update(readFileSync(join(repoRoot, "package-lock.json")))
  return hash.digest("hex").slice(0, 16)
}

/** Packages loaded from node_modules at run time rather than bundled. */
const external = [
  "better-sqlite3",
  "pg-native",
  "esbuild",
  "express",
  "fastify",
  "@fastify/*",
  "hono",
  "@hono/*"
]

const cacheDir = join(repoRoot, "node_modules", ".cache", "profile-insights-servers")

/**
 * Bundles the servers `names` into `outDir` (reused when it holds them
 * already), in one build with the code they share split into chunks.
 */
const bundleInto = async (
  esbuild: typeof import("esbuild"),
  names: ReadonlyArray<ServerName>,
  outDir: string
): Promise<string> => {
  const complete = () => names.every((name) => existsSync(join(outDir, `${name}.mjs`)))
  if (complete()) {
    const now = new Date()
    utimesSync(outDir, now, now)
    return outDir
  }
  const building = `${outDir}.${process.pid}.${Date.now()}.tmp`
  await esbuild.build({
    entryPoints: Object.fromEntries(names.map((name) => [name, serverEntry(name)])),
    outdir: building,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external,
    banner: {
      js: "import { createRequire as bundleCreateRequire } from 'node:module';" +
        " const require = bundleCreateRequire(import.meta.url);"
    },
    plugins: [{
      name: "source-import-meta",
      setup: (build) => {
        // Each of the project's files keeps its own import.meta.url.
        build.onLoad({ filter: /\.(ts|tsx|mts)$/ }, async (args) => {
          if (args.path.includes("/node_modules/")) return undefined
          const source = await readFile(args.path, "utf8")
          const contents = source
            .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href))
            .replaceAll("import.meta.dirname", JSON.stringify(dirname(args.path)))
            .replaceAll("import.meta.filename", JSON.stringify(args.path))
          return { contents, loader: args.path.endsWith("x") ? "tsx" : "ts" }
        })
      }
    }],
    logLevel: "silent"
  }).catch((error: unknown) => {
    rmSync(building, { recursive: true, force: true })
    throw error
  })
  if (complete()) {
    // Another process put the same bundles in place meanwhile.
    rmSync(building, { recursive: true, force: true })
  } else {
    rmSync(outDir, { recursive: true, force: true })
    try {
      renameSync(building, outDir)
    } catch (error) {
      if (!complete()) throw error
      rmSync(building, { recursive: true, force: true })
    }
  }
  // Bundles of older sources, unused for an hour, go.
  for (const entry of readdirSync(cacheDir)) {
    const path = join(cacheDir, entry)
    if (!path.startsWith(outDir) && Date.now() - statSync(path).mtimeMs > 3_600_000) {
      rmSync(path, { recursive: true, force: true })
    }
  }
  return outDir
}

let allBundled: Promise<string> | undefined
const oneBundled = new Map<ServerName, Promise<string>>()

/**
 * Every server is bundled in one build, so the library and effect are
 * parsed once; when that build fails (one server does not compile), the
 * server asked for is bundled on its own, so a broken server fails only
 * its own start.
 */
const nodeArguments = async (name: ServerName): Promise<ReadonlyArray<string>> => {
  const tsx = ["--import", "tsx", serverEntry(name)]
  if (process.env.PROFILE_INSIGHTS_SERVER_TSX === "1") return tsx
  const esbuild = await import("esbuild").catch(() => undefined)
  if (esbuild === undefined) return tsx
  const hash = sourceHash()
  const all = await (allBundled ??= bundleInto(esbuild, availableServers(), join(cacheDir, hash)))
    .catch(() => undefined)
  if (all !== undefined && existsSync(join(all, `${name}.mjs`))) return [join(all, `${name}.mjs`)]
  let one = oneBundled.get(name)
  if (one === undefined) {
    one = bundleInto(esbuild, [name], join(cacheDir, `${hash}-${name}`))
    oneBundled.set(name, one)
    one.catch(() => oneBundled.delete(name))
  }
  return [join(await one, `${name}.mjs`)]
}

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
