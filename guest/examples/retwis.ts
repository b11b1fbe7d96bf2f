// A tiny Twitter (after Retwis, the example application of the Cloudburst paper): users post
// tweets, reply to tweets, follow each other and read a timeline.
//
// State, all in last-writer-wins registers:
//   tweets/{user}   the user's tweets, oldest first, one record per line:
//                   `id|parentAuthor|parentId|text` (parentAuthor and parentId are empty for a
//                   tweet that is not a reply). Only its author writes it: `post` and `reply`
//                   read the register, append a line and write it back.
//   follows/{user}  whom the user follows, one name per line.
//
// The point of the example is causality. `reply` checks that the tweet it answers is there,
// so a reply is always written after its parent. But in the default mode (`"consistency":
// "lww"`), the two registers travel to other hosts independently: a reader elsewhere may get
// bob's reply before alice's tweet, and `timeline` then shows an answer to nothing (it marks
// such a reply MISSING-PARENT). Call every function with `"consistency": "causal"` and the
// platform tracks that the reply depends on the version of `tweets/alice` it read: a host
// shows the reply only once it also has that version, so MISSING-PARENT never appears.
//
//   cloudburst fn call retwis.post alice t1 "hello" --consistency causal
//   cloudburst fn call retwis.reply bob r1 alice t1 "hi alice" --consistency causal
//   cloudburst fn call retwis.follow carol alice --consistency causal
//   cloudburst fn call retwis.follow carol bob --consistency causal
//   cloudburst fn call retwis.timeline carol --consistency causal
//
// Every function returns a string; a request it refuses (a reply to a tweet it cannot see, a
// name with a separator in it) answers "error: ..." and writes nothing. Posting an id that is
// already there, or following someone twice, changes nothing, so retrying a call is safe.

import { getAllStrings, putString } from "cloudburst";

/** Separates the fields of a record. Names and ids may not contain it; text may. */
const FIELD = "|";
/** Separates records (and followees). Nothing may contain it. */
const LINE = "\n";

/** A tweet as stored in its author's register. */
class Tweet {
  constructor(
    public author: string,
    public id: string,
    public parentAuthor: string,
    public parentId: string,
    public text: string,
  ) {}

  get isReply(): bool {
    return this.parentId.length > 0;
  }

  /** The record's line in `tweets/{author}`. */
  encode(): string {
    return this.id + FIELD + this.parentAuthor + FIELD + this.parentId + FIELD + this.text;
  }
}

function tweetsKey(user: string): string {
  return "tweets/" + user;
}

function followsKey(user: string): string {
  return "follows/" + user;
}

/**
 * The lines of a register; an absent register has none. A causal register may hold several
 * concurrent versions (the author posted from two hosts at once, neither seeing the other):
 * `getAllStrings` returns all of them, and their lines are merged, so that the next write,
 * which supersedes them all, loses none. Under lww there is only ever one version.
 */
function linesOf(key: string): string[] {
  const out = new Array<string>();
  const versions = getAllStrings(key);
  for (let v = 0; v < versions.length; v++) {
    if (versions[v].length == 0) continue;
    const lines = versions[v].split(LINE);
    for (let i = 0; i < lines.length; i++) {
      if (!out.includes(lines[i])) out.push(lines[i]);
    }
  }
  return out;
}

/** Decodes one line of `tweets/{author}`: the first three separators end the three fields. */
function decodeTweet(author: string, line: string): Tweet {
  const a = line.indexOf(FIELD);
  const b = line.indexOf(FIELD, a + 1);
  const c = line.indexOf(FIELD, b + 1);
  assert(a >= 0 && b > a && c > b, "retwis: malformed record in " + tweetsKey(author));
  return new Tweet(author, line.slice(0, a), line.slice(a + 1, b), line.slice(b + 1, c), line.slice(c + 1));
}

/** The tweets of `author` held in `lines` (the lines of `tweets/{author}`), oldest first. */
function decodeTweets(author: string, lines: string[]): Tweet[] {
  const out = new Array<Tweet>(lines.length);
  for (let i = 0; i < lines.length; i++) out[i] = decodeTweet(author, lines[i]);
  return out;
}

/** Every tweet of `author`, oldest first, as this call reads `tweets/{author}`. */
function tweetsOf(author: string): Tweet[] {
  return decodeTweets(author, linesOf(tweetsKey(author)));
}

function findTweet(tweets: Tweet[], id: string): Tweet | null {
  for (let i = 0; i < tweets.length; i++) {
    if (tweets[i].id == id) return tweets[i];
  }
  return null;
}

/** Why `value` cannot be used as a name or id, or "" when it can. */
function badName(what: string, value: string): string {
  if (value.length == 0) return "error: " + what + " is empty";
  if (value.includes(FIELD) || value.includes(LINE)) return "error: " + what + " may not contain '|' or a newline";
  return "";
}

/** Appends `tweet` to its author's register (a read-modify-write: only the author writes it). */
function append(tweet: Tweet): string {
  const key = tweetsKey(tweet.author);
  const lines = linesOf(key);
  if (findTweet(decodeTweets(tweet.author, lines), tweet.id) !== null) return "exists " + tweet.author + "/" + tweet.id;
  lines.push(tweet.encode());
  putString(key, lines.join(LINE));
  return "posted " + tweet.author + "/" + tweet.id;
}

/**
 * `user` tweets `text` under the id `id` (unique among `user`'s tweets). Returns
 * "posted user/id" ("exists user/id" if that id is taken: nothing is written).
 */
export function post(user: string, id: string, text: string): string {
  let bad = badName("user", user);
  if (bad.length == 0) bad = badName("id", id);
  if (bad.length == 0 && text.includes(LINE)) bad = "error: text may not contain a newline";
  if (bad.length > 0) return bad;
  return append(new Tweet(user, id, "", "", text));
}

/**
 * `user` answers the tweet `parentAuthor/parentId` with `text`, under the id `id`. The parent
 * must be visible to this call: a reply to a tweet it cannot see is refused (nothing is
 * written). Returns "posted user/id", or "exists user/id", or "error: ...".
 */
export function reply(user: string, id: string, parentAuthor: string, parentId: string, text: string): string {
  let bad = badName("user", user);
  if (bad.length == 0) bad = badName("id", id);
  if (bad.length == 0) bad = badName("parentAuthor", parentAuthor);
  if (bad.length == 0) bad = badName("parentId", parentId);
  if (bad.length == 0 && text.includes(LINE)) bad = "error: text may not contain a newline";
  if (bad.length > 0) return bad;
  // Reading the parent is what makes the reply depend on it: under causal consistency the
  // version of tweets/{parentAuthor} read here travels with the reply.
  if (findTweet(tweetsOf(parentAuthor), parentId) === null) {
    return "error: no tweet " + parentAuthor + "/" + parentId;
  }
  return append(new Tweet(user, id, parentAuthor, parentId, text));
}

/** `user` follows `whom`. Returns "following whom" (also when already following). */
export function follow(user: string, whom: string): string {
  let bad = badName("user", user);
  if (bad.length == 0) bad = badName("whom", whom);
  if (bad.length > 0) return bad;
  const key = followsKey(user);
  const follows = linesOf(key);
  if (!follows.includes(whom)) {
    follows.push(whom);
    putString(key, follows.join(LINE));
  }
  return "following " + whom;
}

/**
 * What `user` sees: the tweets of everyone `user` follows, followee by followee in the order
 * they were followed, each one's tweets oldest first. One line per tweet:
 *
 *   alice/t1: hello
 *   bob/r1 re alice/t1: hi alice
 *   bob/r2 re alice/t9 MISSING-PARENT: what?
 *
 * A reply is marked MISSING-PARENT when its parent is not in the parent author's register as
 * this call read it (whether or not `user` follows the parent's author). Under causal
 * consistency that never happens. Returns "" when there is nothing to show.
 */
export function timeline(user: string): string {
  const bad = badName("user", user);
  if (bad.length > 0) return bad;
  // Each register is read once per call, so every line is judged against the same versions.
  const read = new Map<string, Tweet[]>();
  const out = new Array<string>();
  const follows = linesOf(followsKey(user));
  for (let f = 0; f < follows.length; f++) {
    const author = follows[f];
    if (!read.has(author)) read.set(author, tweetsOf(author));
    const tweets = read.get(author);
    for (let i = 0; i < tweets.length; i++) {
      const t = tweets[i];
      let line = t.author + "/" + t.id;
      if (t.isReply) {
        line += " re " + t.parentAuthor + "/" + t.parentId;
        if (!read.has(t.parentAuthor)) read.set(t.parentAuthor, tweetsOf(t.parentAuthor));
        if (findTweet(read.get(t.parentAuthor), t.parentId) === null) line += " MISSING-PARENT";
      }
      out.push(line + ": " + t.text);
    }
  }
  return out.join(LINE);
}
