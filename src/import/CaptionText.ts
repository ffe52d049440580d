/**
 * What an importer reads out of caption text when the export does not list
 * it separately: hashtags, @mentions and Reddit's u/ mentions. Each list
 * keeps the first spelling of every name, in order of appearance, once.
 */

const unique = (names: Iterable<string>): Array<string> => {
  const seen = new Set<string>()
  const result: Array<string> = []
  for (const name of names) {
    const key = name.toLowerCase()
    if (!seen.has(key)) {
      seen.add(key)
      result.push(name)
    }
  }
  return result
}

const captures = (pattern: RegExp, text: string): Array<string> =>
  Array.from(text.matchAll(pattern), (match) => match[1]!)

const hashtagPattern = /(?<![\p{L}\p{N}_&])#([\p{L}\p{M}\p{N}_]+)/gu

/**
 * Hashtags in `text`, without the "#". A tag needs a letter ("#1" is not a
 * tag) and must not follow a word character ("abc#def" has none).
 */
export const hashtagsIn = (text: string): Array<string> =>
  unique(captures(hashtagPattern, text).filter((tag) => /\p{L}/u.test(tag)))

const mentionPattern =
  /(?<![\p{L}\p{N}_.@])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)/gu

/**
 * @mentions in `text`, without the "@", as Instagram and Twitter write
 * them; an e-mail address is not a mention.
 */
export const mentionsIn = (text: string): Array<string> =>
  unique(captures(mentionPattern, text))

const redditUserPattern = /(?<![\p{L}\p{N}_/])\/?u\/([A-Za-z0-9_-]{3,20})/gu

/** Reddit users named as "u/name" or "/u/name" in `text`, without prefix. */
export const redditUsersIn = (text: string): Array<string> =>
  unique(captures(redditUserPattern, text))

/**
 * Undoes the HTML escaping Twitter and Reddit apply to the text of posts
 * ("&amp;" for "&", "&lt;" for "<", "&gt;" for ">").
 */
export const unescapeHtml = (text: string): string =>
  text
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&quot;", "\"")
    .replaceAll("&#39;", "'")
    .replaceAll("&amp;", "&")
