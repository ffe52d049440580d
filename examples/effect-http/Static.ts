/**
 * The progress page and its files, as routes beside the HttpApi: GET /
 * sends public/index.html; GET /assets/* and GET /<name> send the files
 * of public/ (the page links to /about.html), and the vendor scripts
 * Assets.ts maps to node_modules. A path that leaves public/, or names no
 * file, is the contract's 404.
 */
import { FileSystem, HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { isAbsolute, relative, resolve } from "node:path"
import { contentTypeOf, vendorAssets } from "../server-kit/Assets.js"
import { noRoute, publicDirectory } from "../server-kit/Node.js"
import { fromAnswer } from "./Api.js"

/** The file `path` names inside `directory`, or undefined if it leaves it. */
export const fileWithin = (directory: string, path: string): string | undefined => {
  const file = resolve(directory, `.${path.startsWith("/") ? "" : "/"}${path}`)
  const inside = relative(directory, file)
  return inside === "" || inside.startsWith("..") || isAbsolute(inside) ? undefined : file
}

/** The request's path, percent-decoded; undefined when it cannot be decoded. */
const decodedPath = (url: string): string | undefined => {
  try {
    const path = decodeURIComponent(url.split("?")[0] ?? "")
    return path.includes("\0") ? undefined : path
  } catch {
    return undefined
  }
}

/**
 * Sends the regular file `pathOf` finds for the request's decoded path,
 * with its content type, or the contract's 404.
 */
const sendFile = (pathOf: (path: string) => string | undefined) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const missing = fromAnswer(noRoute(request.method, request.url.split("?")[0] ?? ""))
    const path = decodedPath(request.url)
    const file = path === undefined ? undefined : pathOf(path)
    if (file === undefined) return yield* Effect.fail(missing)
    const fs = yield* FileSystem.FileSystem
    const info = yield* Effect.orElseFail(fs.stat(file), () => missing)
    if (info.type !== "File") return yield* Effect.fail(missing)
    return yield* HttpServerResponse.file(file, {
      headers: { "content-type": contentTypeOf(file) }
    }).pipe(Effect.orElseFail(() => missing))
  })

const publicFile = sendFile((path) => vendorAssets.get(path) ?? fileWithin(publicDirectory, path))

export const StaticLive = HttpApiBuilder.Router.use((router) =>
  Effect.all([
    router.get("/", sendFile(() => fileWithin(publicDirectory, "index.html"))),
    router.get("/assets/*", publicFile),
    router.get("/:page", publicFile)
  ], { discard: true }))
