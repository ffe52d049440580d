/**
 * Parsing JSON text with errors that say where it goes wrong: line,
 * column and what was expected there, whatever the JavaScript engine's own
 * message says.
 */
import { Effect } from "effect"
import { InvalidInput } from "../Errors.js"

const escapePattern = /^(["\\/bfnrt]|u[0-9a-fA-F]{4})/

interface SyntaxProblem {
  readonly offset: number
  readonly expected: string
}

/**
 * The first offset at which `text` stops being JSON, found by a small
 * recursive-descent scan. Only called once JSON.parse has failed.
 */
const findSyntaxProblem = (text: string): SyntaxProblem | undefined => {
  let i = 0
  let problem: SyntaxProblem | undefined
  const fail = (expected: string): false => {
    problem ??= { offset: i, expected }
    return false
  }
  const skipBlanks = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++
  }
  const literal = (word: string) =>
    text.startsWith(word, i) ? ((i += word.length), true) : fail("a value")
  const string = (): boolean => {
    i++
    while (i < text.length) {
      const c = text[i]!
      if (c === "\"") return (i++, true)
      if (c < " ") return fail("no control character inside a string")
      if (c === "\\") {
        const escape = escapePattern.exec(text.slice(i + 1, i + 6))
        if (escape === null) return fail("a valid escape after \\")
        i += 1 + escape[0].length
      } else {
        i++
      }
    }
    return fail("a closing \"")
  }
  const number = (): boolean => {
    const match = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y
    match.lastIndex = i
    if (match.exec(text) === null) return fail("a number")
    i = match.lastIndex
    return true
  }
  const sequence = (close: string, item: () => boolean): boolean => {
    i++
    skipBlanks()
    if (text[i] === close) return (i++, true)
    for (;;) {
      if (!item()) return false
      skipBlanks()
      if (text[i] === close) return (i++, true)
      if (text[i] !== ",") return fail(`',' or '${close}'`)
      i++
      skipBlanks()
    }
  }
  const member = (): boolean => {
    if (text[i] !== "\"") return fail("a property name in double quotes")
    if (!string()) return false
    skipBlanks()
    if (text[i] !== ":") return fail("':'")
    i++
    return value()
  }
  const value = (): boolean => {
    skipBlanks()
    const c = text[i]
    if (c === "{") return sequence("}", member)
    if (c === "[") return sequence("]", value)
    if (c === "\"") return string()
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return number()
    if (c === "t") return literal("true")
    if (c === "f") return literal("false")
    if (c === "n") return literal("null")
    return fail("a value")
  }
  if (value()) {
    skipBlanks()
    if (i < text.length) fail("the end of the text")
  }
  return problem
}

const describe = (
  text: string,
  { offset, expected }: SyntaxProblem
): string => {
  const before = text.slice(0, offset).split("\n")
  const line = before.length
  const column = before[before.length - 1]!.length + 1
  const found = offset >= text.length
    ? "the end of the text"
    : JSON.stringify(String.fromCodePoint(text.codePointAt(offset)!))
  return `not valid JSON at line ${line}, column ${column}: ` +
    `expected ${expected}, got ${found}`
}

/**
 * Parses JSON `text` read from `source`. A leading byte-order mark is
 * ignored; anything that is not JSON fails with InvalidInput naming the
 * source, line and column.
 */
export const parseJson = (
  text: string,
  source: string
): Effect.Effect<unknown, InvalidInput> => {
  const json = text.startsWith("\uFEFF") ? text.slice(1) : text
  return Effect.try({
    try: (): unknown => JSON.parse(json),
    catch: (error) => {
      const problem = findSyntaxProblem(json)
      return new InvalidInput({
        source,
        record: "",
        field: "",
        detail: problem === undefined
          ? `not valid JSON: ${error instanceof Error ? error.message : error}`
          : describe(json, problem)
      })
    }
  })
}
