/**
 * The profile-insights command run from source as a child process
 * (`node --import tsx examples/cli/main.ts`), as a user runs it.
 */
import { execFile, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { promisify } from "node:util"

export const root = resolve(import.meta.dirname, "../..")

export const entry = resolve(root, "examples/cli/main.ts")

/** tsx's loader, by URL: a bare "tsx" resolves from the working directory. */
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs the command to its end, in `cwd` (default the repository); its exit code and output. */
export const runCli = async (
  args: ReadonlyArray<string>,
  options: { readonly env?: Readonly<Record<string, string>>; readonly cwd?: string } = {}
): Promise<Run> => {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", tsxLoader, entry, ...args],
      {
        cwd: options.cwd ?? root,
        env: { ...process.env, ...options.env },
        timeout: 90_000,
        maxBuffer: 16 * 1024 * 1024
      }
    )
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }
  }
}

export interface Started {
  readonly pid: number
  readonly stderr: () => string
  readonly signal: (signal: NodeJS.Signals) => void
  /** The exit code, or 128 + the signal's number when a signal ended it. */
  readonly exited: Promise<number>
}

/**
 * Starts the command through `launcher` ("node": `node --import tsx`,
 * "tsx": the tsx binary, which runs it in a child of its own).
 */
export const startCli = (
  launcher: "node" | "tsx",
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Started => {
  const [command, prefix] = launcher === "node"
    ? [process.execPath, ["--import", tsxLoader, entry]]
    : [resolve(root, "node_modules/.bin/tsx"), [entry]]
  const child = spawn(command, [...prefix, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let err = ""
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString("utf8")
  })
  const signals: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }
  return {
    pid: child.pid!,
    stderr: () => err,
    signal: (signal) => void child.kill(signal),
    exited: new Promise((resolve) =>
      child.on("exit", (code, signal) =>
        resolve(code ?? 128 + (signal === null ? 0 : signals[signal] ?? 0))
      )
    )
  }
}
