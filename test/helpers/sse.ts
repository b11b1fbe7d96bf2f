/** One server-sent event (or a comment line, `comment`), as a test reads it. */
export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/**
 * Reads the server-sent events of `res` until its body ends (resolves) or is aborted (rejects),
 * calling `onEvent` with each event and each comment (`: text`), in order.
 *
 * @example
 * const events: SseEvent[] = [];
 * const done = readEvents(await fetch(url, { signal }), (e) => events.push(e));
 */
export async function readEvents(res: Response, onEvent: (e: SseEvent) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const e: SseEvent = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) onEvent({ comment: line.slice(1).trim() });
        else {
          const colon = line.indexOf(':');
          const field = line.slice(0, colon);
          const value = line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id' || field === 'event') e[field] = value;
          else if (field === 'data') e.data = e.data === undefined ? value : `${e.data}\n${value}`;
        }
      }
      if (e.event !== undefined || e.data !== undefined) onEvent(e);
    }
  }
}
