// A Server-Sent Events parser for fetch() bodies, following the HTML spec's
// "event stream interpretation": lines end in CRLF, LF or CR; ":" starts a
// comment; a blank line dispatches; "id" persists across events; an event
// with no data lines is not dispatched.

export class SSEParser {
  constructor() {
    this.buffer = "";
    this.pendingCR = false;
    this.lastEventId = "";
    this.retry = null;
    this.reset();
  }

  reset() {
    this.type = "";
    this.data = [];
    this.hasData = false;
  }

  /** Feed decoded text; returns the events completed by it. */
  feed(text) {
    const events = [];
    let chunk = text;
    if (this.pendingCR && chunk.startsWith("\n")) chunk = chunk.slice(1); // CRLF split in two
    this.pendingCR = false;
    this.buffer += chunk;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (ch !== "\n" && ch !== "\r") continue;
      const line = this.buffer.slice(start, i);
      if (ch === "\r") {
        if (i + 1 === this.buffer.length) this.pendingCR = true;
        else if (this.buffer[i + 1] === "\n") i++;
      }
      start = i + 1;
      const event = this.line(line);
      if (event) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  line(line) {
    if (line === "") {
      const event = this.hasData
        ? { event: this.type || "message", data: this.data.join("\n"), id: this.lastEventId }
        : null;
      this.reset();
      return event;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") {
      this.data.push(value);
      this.hasData = true;
    } else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }
}

/** Yield the events of a fetch() Response as they arrive; cancels the body if left early. */
export async function* readEvents(response) {
  // A decoder called directly, not a TextDecoderStream piped in: each chunk (a token,
  // while a reply streams) then costs one read, not a pipe's several hops.
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SSEParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        yield* parser.feed(decoder.decode());
        break;
      }
      yield* parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
